"""Types shared by several models, and the rules every request obeys."""

from __future__ import annotations

from typing import Annotated, Any, Final, Generic, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, from_json

# Identifiers chosen by the client (user ids, org ids, linked account ids): any printable text.
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Color = Annotated[str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
Metadata = Annotated[dict[str, Any], Field(max_length=100)]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    return value


HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_http_url)]


# What PostgreSQL (text, jsonb) and orjson can store. Every request, free-form JSON included
# (payloads, samples, metadata), is held to it: no NUL in a string or key, integers within
# int64, and JSON nested at most MAX_JSON_DEPTH levels (the body is level 1).
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_JSON_DEPTH: Final = 64

Loc = tuple[str | int, ...]


def unstorable(value: Any) -> tuple[Loc, str, str] | None:
    """Where and why parsed JSON cannot be stored: (location, error type, message), or None.

    Iterative (no recursion limit to hit); a location is built only for containers.
    """
    if type(value) is not dict:
        return None
    stack: list[tuple[Any, Loc]] = [(value, ())]
    while stack:
        container, loc = stack.pop()
        if len(loc) >= MAX_JSON_DEPTH:
            return loc, "json_too_deep", f"must not be nested more than {MAX_JSON_DEPTH} levels"
        items = container.items() if type(container) is dict else enumerate(container)
        for key, item in items:
            if type(key) is str and "\x00" in key:
                return (*loc, key.replace("\x00", "\\u0000")), "string_nul", _NUL_KEY
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    return (*loc, key), "string_nul", _NUL
            elif kind is dict or kind is list:
                stack.append((item, (*loc, key)))
            elif kind is int and not INT64_MIN <= item <= INT64_MAX:
                return (*loc, key), "int_range", _INT_RANGE
    return None


_NUL = "must not contain the NUL character (\\u0000)"
_NUL_KEY = "keys must not contain the NUL character (\\u0000)"
_INT_RANGE = f"integers must be between {INT64_MIN} and {INT64_MAX}"

# For may_be_unstorable's scans: digits to "0" and every other byte to a space (runs of
# digits stay where they were); brackets to "{" and "}" (depth does not care which kind),
# quotes kept, every other byte deleted.
_DIGITS = bytes(ord("0") if b in b"0123456789" else ord(" ") for b in range(256))
_BRACKETS = bytes.maketrans(b"[]", b"{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'{}[]"')
_RUN = b"0" * 19  # 19 digits in a row, in the _DIGITS image of a body


def _may_hold_a_big_integer(raw: bytes) -> bool:
    """Whether a run of 19 or more digits in ``raw`` reads as a number beyond int64 (a run in
    a string, or in a float, may say yes: then look). Snowflake ids (19 digits) stay below."""
    digits = raw.translate(_DIGITS)
    start = digits.find(_RUN)
    while start >= 0:
        end = digits.find(b" ", start)  # the run's end: the next byte that is not a digit
        end = len(digits) if end < 0 else end
        negative = raw[start - 1 : start] == b"-"
        if end - start > len(_RUN) or int(raw[start:end]) > (-INT64_MIN if negative else INT64_MAX):
            return True
        start = digits.find(_RUN, end)
    return False


def may_be_unstorable(raw: bytes) -> bool:
    """Whether a JSON body might break the storable rule, from a few scans of its bytes at C
    speed. False means it cannot (the walk of ``unstorable`` is skipped); True means look
    (most often a false alarm: a bracket inside a string, a long run of digits in one).

    An integer beyond int64 has 19 digits or more, and a NUL can only be written ``\\u0000``.
    Depth is read from the brackets: with escaped backslashes and quotes removed, every quote
    delimits a string; strings without brackets pair up as ``""`` once the rest is deleted
    (a quote left over means a bracket in a string: look). What remains is the structure,
    and each round of deleting every ``{}`` peels one level off it: nothing left within
    MAX_JSON_DEPTH rounds means shallow enough.
    """
    if _may_hold_a_big_integer(raw):
        return True
    if b"\\" in raw:  # only an escape can hide a NUL, or a quote that ends no string
        if b"\\u0000" in raw:
            return True
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(_BRACKETS, _NOT_STRUCTURE)
    if structure.count(b"{") <= MAX_JSON_DEPTH:  # too few brackets to be too deep
        return False
    structure = structure.replace(b'""', b"")
    if b'"' in structure:
        return True
    for _ in range(MAX_JSON_DEPTH):
        if not structure:
            return False
        structure = structure.replace(b"{}", b"")
    return bool(structure)


class RequestModel(BaseModel):
    """Base of every request body and query: unknown fields are an error, not silently
    dropped, and nothing in it is beyond what PostgreSQL and orjson store (``unstorable``):
    a 422 naming the field, never a failure deeper down.

    The rule is checked where a request enters, ``model_validate_json`` (bodies) and
    ``model_validate`` (queries), on the whole input: not by a validator, which would run
    again for every nested model (a batch's events) and make pydantic build each from Python
    objects instead of straight from the JSON (twice the cost per event).
    """

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Parse and validate a JSON body; the walk of ``unstorable`` runs only when the raw
        bytes say it may find something (``may_be_unstorable``)."""
        raw = json_data.encode() if isinstance(json_data, str) else bytes(json_data)
        if may_be_unstorable(raw):
            try:
                parsed = from_json(raw)
            except ValueError:
                pass  # not JSON: pydantic's own error says where
            else:
                _refuse_unstorable(cls, parsed)
        return super().model_validate_json(json_data, **kwargs)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate Python data (a query's parameters)."""
        _refuse_unstorable(cls, obj)
        return super().model_validate(obj, **kwargs)


def _refuse_unstorable(model: type[BaseModel], value: Any) -> None:
    problem = unstorable(value)
    if problem is not None:
        loc, kind, message = problem
        error = InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=None)
        raise ValidationError.from_exception_data(model.__name__, [error])


class ResponseModel(BaseModel):
    """Base of every response body."""


ItemT = TypeVar("ItemT")


class Page(ResponseModel, Generic[ItemT]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` to get the next one."""

    data: list[ItemT]
    next_cursor: str | None


class PageQuery(RequestModel):
    """Cursor pagination parameters of every list route."""

    limit: int | None = Field(default=None, ge=1, description="page size (bounded by settings)")
    cursor: str | None = Field(default=None, max_length=1024)


class Deleted(ResponseModel):
    """Answer to a successful delete."""

    success: bool = True
    deleted: bool = True
