"""Connections: one linked account's authorised access to one app."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.connections.models import Connection, ConnectionStatus
from shared.schemas import ExternalId, PageQuery, ResponseModel, Slug


class ConnectionQuery(PageQuery):
    """Filters of ``GET /v1/connections`` (a session token is always narrowed to its account)."""

    linked_account_id: ExternalId | None = None
    app: Slug | None = None
    status: ConnectionStatus | None = None


class ConnectionRead(ResponseModel):
    """A connection as the API shows it (never its credentials)."""

    id: str
    linked_account_id: str
    app: str
    status: ConnectionStatus
    status_reason: str | None = Field(description="why the status is what it is, when not active")
    status_changed_at: datetime = Field(description="when the status last changed")
    fields: dict[str, str] = Field(default_factory=dict, description="non-secret connection fields")
    credentials_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connection: Connection) -> ConnectionRead:
        """The API's view of a connection."""
        return cls(
            id=str(connection.id),
            linked_account_id=connection.linked_account_id,
            app=connection.app,
            status=connection.status,
            status_reason=connection.status_reason,
            status_changed_at=connection.status_changed_at,
            fields=connection.fields,
            credentials_expires_at=connection.credentials_expires_at,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
        )
