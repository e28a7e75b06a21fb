"""Opaque keyset cursors: any sort key survives the round trip; anything else is a 422."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from shared.errors import ApiError
from shared.infra.pagination import decode_cursor, decode_uuid_cursor, encode_cursor


@pytest.mark.parametrize("key", ["", "acct-07", "user/with space?and#hash", "ü😀", "c1:nested"])
def test_a_cursor_gives_back_its_key_and_is_url_safe_without_padding(key: str) -> None:
    cursor = encode_cursor(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]*", cursor)
    assert decode_cursor(cursor) == key


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) is None
    assert decode_uuid_cursor(None) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "",
        base64.urlsafe_b64encode(b"acct-07").decode(),  # no version
        base64.urlsafe_b64encode(b"c0:acct-07").decode(),  # another version
        base64.b64encode(b"c1:\xfb\xef").decode(),  # standard base64 (+ and /), not ours
        base64.urlsafe_b64encode(b"c1:\xff").decode(),  # not UTF-8
        encode_cursor("acct-07") + "!",
    ],
)
def test_a_cursor_this_api_did_not_issue_is_a_422_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor)
    assert (refused.value.status, refused.value.field) == (422, "cursor")


def test_a_uuid_cursor_accepts_only_uuid_keys() -> None:
    row_id = uuid.uuid4()
    assert decode_uuid_cursor(encode_cursor(str(row_id))) == row_id
    with pytest.raises(ApiError) as refused:
        decode_uuid_cursor(encode_cursor("acct-07"))
    assert refused.value.field == "cursor"
