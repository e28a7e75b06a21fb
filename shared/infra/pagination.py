"""Opaque keyset cursors: the last row's sort key, versioned and base64-encoded.

A store fetches one row more than the page (``LIMIT limit + 1``) and hands what it got to
``page``: the extra row only tells that a next page exists.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from shared.errors import invalid

T = TypeVar("T")

_VERSION = "c1:"


def encode_cursor(last_key: str) -> str:
    """The cursor that continues after ``last_key``."""
    return base64.urlsafe_b64encode((_VERSION + last_key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key a cursor continues after; anything this API did not issue is a 422."""
    if cursor is None:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        text = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_VERSION):
        raise invalid("cursor", "cursor: not a cursor this API returned")
    return text.removeprefix(_VERSION)


def decode_uuid_cursor(cursor: str | None) -> uuid.UUID | None:
    """A cursor over rows ordered by a uuid id."""
    after = decode_cursor(cursor)
    if after is None:
        return None
    try:
        return uuid.UUID(after)
    except ValueError:
        raise invalid("cursor", "cursor: not a cursor this API returned") from None


def page(
    items: Sequence[T], *, limit: int, key: Callable[[T], str | uuid.UUID]
) -> tuple[list[T], str | None]:
    """The first ``limit`` items of a ``LIMIT limit + 1`` fetch, and the cursor after the last
    of them when there is more (``key``: an item's sort key)."""
    shown = list(items[:limit])
    return shown, encode_cursor(str(key(shown[-1]))) if len(items) > limit else None
