"""Connections as the code sees them: typed, with ids as UUIDs and a status enum."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.infra.crypto import Sealed
from shared.tenancy import Tenant


class ConnectionStatus(StrEnum):
    """Whether a connection can be used: ``needs_reauth`` until the user goes through Link again."""

    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class Connection:
    """One linked account's authorised access to one app (never its credentials)."""

    id: uuid.UUID
    tenant: Tenant
    linked_account_id: str
    app: str
    status: ConnectionStatus
    status_reason: str | None
    fields: dict[str, str]
    credentials_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """A connection with its sealed credentials, for code that calls the app."""

    connection: Connection
    credentials: Sealed | None
    provider_account_id: str | None

    @property
    def id(self) -> uuid.UUID:
        """The connection's id."""
        return self.connection.id

    @property
    def tenant(self) -> Tenant:
        """The tenant that owns it."""
        return self.connection.tenant
