"""Per-client, per-environment settings: branding and where Link may send users back to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import Color, HttpUrl, Name, RequestModel, ResponseModel
from shared.tokens.service import Environment


class ClientSettingsRead(ResponseModel):
    """The caller's settings in the caller's environment."""

    client_id: str
    environment: Environment
    name: str
    color: str | None
    callback_url: str | None
    allowed_redirect_urls: list[str]


class ClientSettingsUpdate(RequestModel):
    """Change some settings; ``allowed_redirect_urls`` replaces the whole list."""

    name: Name | None = None
    color: Color | None = None
    callback_url: HttpUrl | None = None
    allowed_redirect_urls: Annotated[list[HttpUrl], Field(max_length=100)] | None = None


class ApiKeyCreate(RequestModel):
    """A new API key for the caller's environment."""

    name: Name | None = None


class ApiKeyRead(ResponseModel):
    """An API key's public facts: the secret itself is never shown again."""

    id: str
    kind: Literal["client_secret", "api_key"]
    name: str | None
    hint: str = Field(description="the key's prefix and first characters")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """A freshly created key, with its secret shown this once."""

    api_key: str
