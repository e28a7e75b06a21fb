"""Connections between a linked account and an app."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.connections.models import Connection, ConnectionStatus, StoredConnection
from shared.infra.crypto import Sealed
from shared.infra.db import Pool
from shared.infra.pagination import decode_uuid_cursor, page
from shared.tenancy import Tenant


async def upsert_connection(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str, status: ConnectionStatus
) -> Connection:
    """Create a connection of the account to ``app``, or set the status of its newest one."""
    row = await pool.fetchrow(
        """WITH existing AS (
               SELECT id FROM connections
               WHERE client_id = $2 AND environment = $3 AND linked_account_id = $4 AND app = $5
               ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE),
           updated AS (
               UPDATE connections SET status = $6, status_reason = NULL, updated_at = now()
               WHERE id IN (SELECT id FROM existing) RETURNING *),
           inserted AS (
               INSERT INTO connections (id, client_id, environment, linked_account_id, app, status)
               SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM existing)
               RETURNING *)
           SELECT * FROM updated UNION ALL SELECT * FROM inserted""",
        uuid.uuid4(),
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
        status,
    )
    assert row is not None
    return _connection(row)


async def list_connections(
    pool: Pool,
    *,
    tenant: Tenant,
    limit: int,
    cursor: str | None,
    linked_account_id: str | None,
    app: str | None,
    status: str | None,
) -> tuple[list[Connection], str | None]:
    """A page of the tenant's connections, filtered, ordered by id."""
    rows = await pool.fetch(
        """SELECT * FROM connections
           WHERE client_id = $1 AND environment = $2
             AND ($3::uuid IS NULL OR id > $3)
             AND ($4::text IS NULL OR linked_account_id = $4)
             AND ($5::text IS NULL OR app = $5)
             AND ($6::text IS NULL OR status = $6)
           ORDER BY id LIMIT $7""",
        tenant.client_id,
        tenant.environment,
        decode_uuid_cursor(cursor),
        linked_account_id,
        app,
        status,
        limit + 1,
    )
    return page([_connection(r) for r in rows], limit=limit, key=lambda c: c.id)


class Row(Protocol):
    """A row's columns by name (an asyncpg Record, or a prefixed view of one)."""

    def __getitem__(self, key: str, /) -> Any: ...


def _connection(row: Row) -> Connection:
    return Connection(
        id=row["id"],
        tenant=Tenant(row["client_id"], row["environment"]),
        linked_account_id=row["linked_account_id"],
        app=row["app"],
        status=ConnectionStatus(row["status"]),
        status_reason=row["status_reason"],
        fields=row["fields"],
        credentials_expires_at=row["credentials_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def find_by_access_token(
    pool: Pool, *, tenant: Tenant, token_hash: bytes
) -> Connection | None:
    """The tenant's connection identified by an access token's hash, or None."""
    row = await pool.fetchrow(
        """SELECT * FROM connections
           WHERE client_id = $1 AND environment = $2 AND access_token_hash = $3""",
        tenant.client_id,
        tenant.environment,
        token_hash,
    )
    return None if row is None else _connection(row)


async def list_for_accounts(
    pool: Pool, *, tenant: Tenant, linked_account_ids: list[str]
) -> list[StoredConnection]:
    """Every connection of these accounts of the tenant, oldest first (sealed credentials too:
    callers read ``provider_account_id`` beside the connection)."""
    rows = await pool.fetch(
        """SELECT * FROM connections
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = any($3::text[])
           ORDER BY created_at, id""",
        tenant.client_id,
        tenant.environment,
        linked_account_ids,
    )
    return [_stored(r) for r in rows]


async def count_by_status(pool: Pool, *, tenant: Tenant) -> dict[ConnectionStatus, int]:
    """How many connections the tenant has in each status (absent: none)."""
    rows = await pool.fetch(
        """SELECT status, count(*) AS n FROM connections
           WHERE client_id = $1 AND environment = $2 GROUP BY status""",
        tenant.client_id,
        tenant.environment,
    )
    return {ConnectionStatus(r["status"]): r["n"] for r in rows}


# The columns ``_stored`` reads: a query joining a connection in selects them under a prefix.
_STORED_COLUMNS = (
    "id",
    "client_id",
    "environment",
    "linked_account_id",
    "app",
    "status",
    "status_reason",
    "fields",
    "credentials_expires_at",
    "created_at",
    "updated_at",
    "credentials",
    "credentials_nonce",
    "credentials_key_id",
    "provider_account_id",
)


def stored_columns(alias: str, prefix: str) -> str:
    """SQL selecting connection ``alias``'s columns as ``{prefix}{column}``."""
    return ", ".join(f"{alias}.{column} AS {prefix}{column}" for column in _STORED_COLUMNS)


class _Prefixed:
    def __init__(self, row: Row, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getitem__(self, key: str, /) -> Any:
        return self._row[self._prefix + key]


def stored_from(row: Row, prefix: str) -> StoredConnection | None:
    """The connection selected with ``stored_columns(…, prefix)``, or None (no such row)."""
    return None if row[prefix + "id"] is None else _stored(_Prefixed(row, prefix))


def _stored(row: Row) -> StoredConnection:
    sealed = None
    if row["credentials"] is not None:
        sealed = Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"])
    return StoredConnection(_connection(row), sealed, row["provider_account_id"])


async def get_connection(
    pool: Pool, *, tenant: Tenant, connection_id: uuid.UUID
) -> StoredConnection | None:
    """One of the tenant's connections, with its sealed credentials, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM connections WHERE id = $1 AND client_id = $2 AND environment = $3",
        connection_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _stored(row)


async def newest_active(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str
) -> StoredConnection | None:
    """The account's most recently created active connection to ``app`` (what a workflow step
    in another app than its workflow's uses), or None."""
    row = await pool.fetchrow(
        """SELECT * FROM connections
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3 AND app = $4
             AND status = 'active'
           ORDER BY created_at DESC, id DESC LIMIT 1""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
    )
    return None if row is None else _stored(row)


async def save_authorised_connection(
    pool: Pool,
    *,
    tenant: Tenant,
    linked_account_id: str,
    app: str,
    seal: Callable[[uuid.UUID], Sealed],
    expires_at: datetime | None,
    provider_account_id: str | None,
    fields: dict[str, str],
    update_connection_id: uuid.UUID | None,
) -> Connection | None:
    """Authorise a connection of the account to ``app``: a new one, except that
    ``update_connection_id`` (update mode) re-authorises that connection, and a
    ``provider_account_id`` already connected (the same workspace again) updates its
    connection. None when the connection to update is gone (or is another account's or app's).

    ``seal`` encrypts the credentials bound to the id of the row they end up in.
    """
    async with pool.acquire() as conn, conn.transaction():
        existing: uuid.UUID | None = None
        if update_connection_id is not None:
            existing = await conn.fetchval(
                """SELECT id FROM connections WHERE id = $1 AND client_id = $2
                   AND environment = $3 AND linked_account_id = $4 AND app = $5 FOR UPDATE""",
                update_connection_id,
                tenant.client_id,
                tenant.environment,
                linked_account_id,
                app,
            )
            if existing is None:
                return None
        elif provider_account_id is not None:
            # Two callbacks for the same provider account at once: the second waits here and
            # then finds the first one's row (there is no unique constraint to lean on: update
            # mode may point a connection at any provider account).
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"connection:{tenant.client_id}:{tenant.environment}:{linked_account_id}:{app}",
            )
            existing = await conn.fetchval(
                """SELECT id FROM connections WHERE client_id = $1 AND environment = $2
                   AND linked_account_id = $3 AND app = $4 AND provider_account_id = $5
                   ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",
                tenant.client_id,
                tenant.environment,
                linked_account_id,
                app,
                provider_account_id,
            )
        row_id = existing if existing is not None else uuid.uuid4()
        sealed = seal(row_id)
        values = (
            sealed.ciphertext,
            sealed.nonce,
            sealed.key_id,
            expires_at,
            provider_account_id,
            fields,
        )
        if existing is not None:
            row = await conn.fetchrow(
                """UPDATE connections SET status = 'active', status_reason = NULL,
                       credentials = $2, credentials_nonce = $3, credentials_key_id = $4,
                       credentials_expires_at = $5, provider_account_id = $6, fields = $7,
                       updated_at = now()
                   WHERE id = $1 RETURNING *""",
                row_id,
                *values,
            )
        else:
            row = await conn.fetchrow(
                """INSERT INTO connections (id, client_id, environment, linked_account_id, app,
                                            status, credentials, credentials_nonce,
                                            credentials_key_id, credentials_expires_at,
                                            provider_account_id, fields)
                   VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $11)
                   RETURNING *""",
                row_id,
                tenant.client_id,
                tenant.environment,
                linked_account_id,
                app,
                *values,
            )
    assert row is not None
    return _connection(row)


async def set_access_token(
    pool: Pool, *, tenant: Tenant, connection_id: uuid.UUID, token_hash: bytes
) -> uuid.UUID | None:
    """Make ``token_hash`` the connection's only access token; its id, or None when it is gone."""
    found: uuid.UUID | None = await pool.fetchval(
        """UPDATE connections SET access_token_hash = $4, updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING id""",
        connection_id,
        tenant.client_id,
        tenant.environment,
        token_hash,
    )
    return found


async def delete_connection(
    pool: Pool, *, tenant: Tenant, connection_id: uuid.UUID, linked_account_id: str | None = None
) -> Connection | None:
    """Delete a connection (credentials and access token with it); optionally only if it is
    that account's. Returns it as it was, or None when there was none."""
    row = await pool.fetchrow(
        """DELETE FROM connections WHERE id = $1 AND client_id = $2 AND environment = $3
             AND ($4::text IS NULL OR linked_account_id = $4)
           RETURNING *""",
        connection_id,
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return None if row is None else _connection(row)


async def save_refreshed_credentials(
    pool: Pool, *, connection_id: uuid.UUID, sealed: Sealed, expires_at: datetime | None
) -> None:
    """Store credentials a refresh returned (the new refresh token with them, in one write)."""
    await pool.execute(
        """UPDATE connections SET credentials = $2, credentials_nonce = $3, credentials_key_id = $4,
               credentials_expires_at = $5, updated_at = now() WHERE id = $1""",
        connection_id,
        sealed.ciphertext,
        sealed.nonce,
        sealed.key_id,
        expires_at,
    )


async def mark_needs_reauth(pool: Pool, *, connection_id: uuid.UUID, reason: str) -> None:
    """The connection can no longer be used until the user re-authorises it."""
    await pool.execute(
        "UPDATE connections SET status = $3, status_reason = $2, updated_at = now() WHERE id = $1",
        connection_id,
        reason,
        ConnectionStatus.NEEDS_REAUTH,
    )
