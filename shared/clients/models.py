"""Clients (tenants), their per-environment settings and credentials, as Linkport's code holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shared.tenancy import Environment


class KeyKind(StrEnum):
    """The two kinds of server credential a tenant holds (one ``api_keys`` table)."""

    CLIENT_SECRET = "client_secret"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored credential's public facts (the secret exists only as a hash)."""

    id: UUID
    kind: KeyKind
    name: str | None
    hint: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """A tenant's branding and where the Link flow may send users back to."""

    public_client_id: str
    environment: Environment
    name: str
    color: str | None
    callback_url: str | None
    allowed_redirect_urls: tuple[str, ...]


@dataclass(frozen=True)
class IssuedCredentials:
    """What ``linkport clients create`` prints once: the secrets exist nowhere else afterwards."""

    client_id: str
    client_secret: str
    api_key: str
    environment: Environment
    name: str

    def as_dict(self) -> dict[str, str]:
        """The credentials as JSON-ready data."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_key": self.api_key,
            "environment": self.environment,
            "name": self.name,
        }
