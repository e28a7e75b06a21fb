"""Connections as the code sees them: typed, with ids as UUIDs and a status enum."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.infra.crypto import Sealed
from shared.tenancy import Tenant


class ConnectionStatus(StrEnum):
    """A connection's health. ``active``: works. ``error``: refreshing its token keeps failing
    for network or server reasons; still used, and ``active`` again on the next success.
    ``needs_reauth``: the app refused its grant (refresh refused, 401 after a refresh);
    ``revoked``: the provider says the grant was withdrawn. Both last until the user goes
    through Link again (update mode). ``disconnected``: kept for older rows."""

    ACTIVE = "active"
    ERROR = "error"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    DISCONNECTED = "disconnected"

    @property
    def usable(self) -> bool:
        """Whether calls may be made with the connection's credentials."""
        return self in USABLE_STATUSES


# Statuses whose credentials are used (and refreshed): the others wait for the user.
USABLE_STATUSES = frozenset({ConnectionStatus.ACTIVE, ConnectionStatus.ERROR})


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
    status_changed_at: datetime


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
