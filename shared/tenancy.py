"""Who is calling: the tenant (client + environment) and the kind of credential used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Environment = Literal["test", "live"]
ENVIRONMENTS: tuple[Environment, ...] = ("test", "live")


@dataclass(frozen=True, slots=True)
class Tenant:
    """A client in one environment; every tenant-owned row is keyed by these two."""

    client_id: UUID
    environment: Environment


@dataclass(frozen=True, slots=True)
class ServerPrincipal:
    """A product backend, authenticated by client secret or API key."""

    tenant: Tenant
    key_id: UUID


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """A frontend holding a session token for one linked account."""

    tenant: Tenant
    linked_account_id: str


Principal = ServerPrincipal | SessionPrincipal
