"""Clients (tenants), their per-environment settings and credentials, as Linkport's code holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from shared.tenancy import Environment


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, as browsers send it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


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
    # Browser origins for the session-token routes (CORS); None: see ``cors_origins``.
    allowed_origins: tuple[str, ...] | None = None

    @property
    def cors_origins(self) -> frozenset[str]:
        """The origins a browser may call session-token routes from: ``allowed_origins`` when
        set, else the origins of ``callback_url`` and ``allowed_redirect_urls``."""
        if self.allowed_origins is not None:
            return frozenset(self.allowed_origins)
        urls = [*self.allowed_redirect_urls, *([self.callback_url] if self.callback_url else [])]
        return frozenset(origin_of(url) for url in urls)


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
