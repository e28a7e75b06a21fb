"""A client's settings for an app, as stored."""

from __future__ import annotations

from dataclasses import dataclass

from shared.infra.crypto import Sealed


@dataclass(frozen=True, slots=True)
class AppSettings:
    """One app's settings for a tenant (no row means: the catalog's defaults)."""

    app: str
    enabled: bool
    oauth_client_id: str | None
    oauth_client_secret: Sealed | None
    scopes: list[str] | None
