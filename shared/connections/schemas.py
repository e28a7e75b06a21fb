"""Connections: one linked account's authorised access to one app."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.connections.models import Connection, ConnectionStatus
from shared.schemas import ExternalId, PageQuery, RequestModel, ResponseModel, Slug


class ConnectionQuery(PageQuery):
    """Filters of ``GET /v1/connections`` (a session token is always narrowed to its account)."""

    linked_account_id: ExternalId | None = None
    app: Slug | None = None
    status: ConnectionStatus | None = None


class ConnectionCreate(RequestModel):
    """Connect a linked account to a key-based app without the hosted page (headless)."""

    linked_account_id: ExternalId
    app: Slug = Field(description="an api_key or basic app the client offers")
    fields: Annotated[
        dict[str, Annotated[str, StringConstraints(max_length=4096)]], Field(max_length=50)
    ] = Field(
        default_factory=dict,
        description="the app's connection fields (GET /v1/apps lists them), secrets included",
    )


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
