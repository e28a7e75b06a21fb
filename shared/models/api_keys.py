"""API keys of the caller's environment: create, list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.models.common import Name, RequestModel, ResponseModel


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
