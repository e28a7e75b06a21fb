"""Per-client, per-environment settings: branding and where Link may send users back to."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.models.common import Color, HttpUrl, Name, RequestModel, ResponseModel
from shared.tokens import Environment


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
