"""Types shared by several models."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
