"""Event names are free text, as product teams name events: printable, at most 128
characters, no control characters, no blank edges."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.events.schemas import EventName

NAMES = TypeAdapter(EventName)


@pytest.mark.parametrize(
    "name",
    ["contact.created", "New Contact Created", "Deal Won/Lost", "événement créé", "a", "x" * 128],
)
def test_printable_names_are_accepted(name: str) -> None:
    assert NAMES.validate_python(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        " leading",
        "trailing ",
        "\t",
        "line\nbreak",
        "nul\x00",
        "del\x7f",
        "c1\x85",
        "ls\u2028",
        "x" * 129,
    ],
)
def test_control_characters_blank_edges_and_long_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        NAMES.validate_python(name)
