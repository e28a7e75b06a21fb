"""Connections as the code sees them: typed, with ids as UUIDs and a status enum."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

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


_C = TypeVar("_C", Connection, StoredConnection)


def _of(item: Connection | StoredConnection) -> Connection:
    return item.connection if isinstance(item, StoredConnection) else item


def newest_per_app(connections: Iterable[_C]) -> dict[tuple[str, str], _C]:
    """The connection a linked account's workflows use for each app when no config pins
    one, by (linked account, app): its newest active one; without an active one, its newest
    (so an app whose only connection needs re-authorising still shows it). Fan-out applies
    the same rule in SQL (``shared/executions/store.py``)."""
    chosen: dict[tuple[str, str], _C] = {}
    for item in connections:
        c = _of(item)
        key = (c.linked_account_id, c.app)
        held = chosen.get(key)
        if held is None or _rank(c) > _rank(_of(held)):
            chosen[key] = item
    return chosen


def _rank(c: Connection) -> tuple[bool, datetime, uuid.UUID]:
    return (c.status is ConnectionStatus.ACTIVE, c.created_at, c.id)
