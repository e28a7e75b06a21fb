"""What logs and execution history never show: secret-named fields, and anything shaped like a
secret Linkport issued, at any depth."""

from __future__ import annotations

import copy
from typing import Any

from shared.infra import tokens
from shared.infra.logs import redact_secrets, scrub_secrets

API_KEY = tokens.mint(tokens.api_key_prefix("live"))
LINK_TOKEN = tokens.mint("lt_")


def test_secret_named_fields_are_blanked_whatever_their_case_or_value() -> None:
    scrubbed = scrub_secrets(
        {
            "Authorization": "Bearer abc",
            "API_KEY": 12345,
            "password": None,
            "Token": {"nested": "whole value"},
            "refresh_token": ["a", "b"],
            "tokens": "a field merely named like one",
        }
    )
    assert scrubbed == {
        "Authorization": "[redacted]",
        "API_KEY": "[redacted]",
        "password": "[redacted]",
        "Token": "[redacted]",
        "refresh_token": "[redacted]",
        "tokens": "a field merely named like one",
    }


def test_secret_shaped_text_is_replaced_where_it_stands() -> None:
    text = f"retry with {API_KEY}, then GET /link?token={LINK_TOKEN}&step=2"
    assert scrub_secrets(text) == "retry with [redacted], then GET /link?token=[redacted]&step=2"


def test_structures_are_scrubbed_at_any_depth_and_left_as_they_were() -> None:
    value: dict[str, Any] = {
        "steps": [{"input": {"headers": {"authorization": "Bearer x"}, "note": API_KEY}}],
        "pair": ("ok", LINK_TOKEN),
        "count": 3,
        "ratio": 0.5,
        "vip": True,
        "missing": None,
    }
    before = copy.deepcopy(value)
    assert scrub_secrets(value) == {
        "steps": [{"input": {"headers": {"authorization": "[redacted]"}, "note": "[redacted]"}}],
        "pair": ["ok", "[redacted]"],  # a tuple comes back as a list (JSON has no tuples)
        "count": 3,
        "ratio": 0.5,
        "vip": True,
        "missing": None,
    }
    assert value == before  # a copy: the caller's data is not changed


def test_the_log_processor_scrubs_every_field_of_a_line() -> None:
    line = redact_secrets(
        None,
        "info",
        {
            "event": f"called with {API_KEY}",
            "client_secret": "cs_test_whatever",
            "Password": 42,
            "extra": {"token": "x", "url": f"/v1?key={LINK_TOKEN}"},
            "status": 401,
        },
    )
    assert line == {
        "event": "called with [redacted]",
        "client_secret": "[redacted]",
        "Password": "[redacted]",
        "extra": {"token": "[redacted]", "url": "/v1?key=[redacted]"},
        "status": 401,
    }


def test_webhook_signing_secrets_are_scrubbed_whole() -> None:
    from shared.infra.logs import scrub_secrets

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+abc/def=="
    scrubbed = scrub_secrets(f"endpoint secret {secret} rotated")
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in scrubbed
    assert "def==" not in scrubbed
