"""Connections between a linked account and an app."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.connections.models import Connection, ConnectionStatus, StoredConnection
from shared.infra.crypto import Sealed
from shared.infra.db import AnyConnection, Pool
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
        status_changed_at=row["status_changed_at"],
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
    "status_changed_at",
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
    that account's. Returns it as it was, or None when there was none.

    Its sealed credentials move to ``connection_revocations`` in the same statement: the
    provider is asked to revoke them after the delete has committed (``revocation``), and a
    crash in between leaves that owed, not forgotten."""
    row = await pool.fetchrow(
        f"""WITH gone AS (
               DELETE FROM connections WHERE id = $1 AND client_id = $2 AND environment = $3
                 AND ($4::text IS NULL OR linked_account_id = $4)
               RETURNING *),
           owed AS ({_OWE_REVOCATIONS})
           SELECT * FROM gone""",  # noqa: S608
        connection_id,
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return None if row is None else _connection(row)


# Turns the deleted connections of a ``gone`` CTE into revocations owed to their providers.
_OWE_REVOCATIONS = """
    INSERT INTO connection_revocations (connection_id, client_id, environment, app, fields,
                                        credentials, credentials_nonce, credentials_key_id)
    SELECT id, client_id, environment, app, fields,
           credentials, credentials_nonce, credentials_key_id
    FROM gone WHERE credentials IS NOT NULL
    ON CONFLICT (connection_id) DO NOTHING"""


async def delete_app_connections(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str
) -> list[Connection]:
    """Delete every connection of the account to ``app`` (owing their revocations, as
    ``delete_connection`` does); returns them as they were, oldest first."""
    rows = await pool.fetch(
        f"""WITH gone AS (
               DELETE FROM connections
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3 AND app = $4
               RETURNING *),
           owed AS ({_OWE_REVOCATIONS})
           SELECT * FROM gone ORDER BY created_at, id""",  # noqa: S608
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
    )
    return [_connection(r) for r in rows]


async def delete_account_connections(
    conn: AnyConnection, *, tenant: Tenant, linked_account_id: str
) -> list[Connection]:
    """Inside the transaction deleting a linked account: lock it (no connection can be added
    meanwhile), delete its connections, owe their revocations; returns them as they were."""
    await conn.execute(
        """SELECT 1 FROM linked_accounts
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3 FOR UPDATE""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    rows = await conn.fetch(
        f"""WITH gone AS (
               DELETE FROM connections
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
               RETURNING *),
           owed AS ({_OWE_REVOCATIONS})
           SELECT * FROM gone ORDER BY created_at, id""",  # noqa: S608
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return [_connection(r) for r in rows]


async def save_refreshed_credentials(
    pool: Pool,
    *,
    connection_id: uuid.UUID,
    sealed: Sealed,
    expires_at: datetime | None,
    fields: dict[str, str] | None = None,
) -> None:
    """Store credentials a refresh returned (the new refresh token with them, in one write),
    and ``fields`` when the answer changed one (None: unchanged). A connection in ``error``
    is ``active`` again, its failure count cleared."""
    await pool.execute(
        """UPDATE connections SET credentials = $2, credentials_nonce = $3, credentials_key_id = $4,
               credentials_expires_at = $5, updated_at = now(), fields = coalesce($6, fields),
               refresh_failures = 0, refresh_not_before = NULL,
               status = CASE WHEN status = 'error' THEN 'active' ELSE status END,
               status_reason = CASE WHEN status = 'error' THEN NULL ELSE status_reason END
           WHERE id = $1""",
        connection_id,
        sealed.ciphertext,
        sealed.nonce,
        sealed.key_id,
        expires_at,
        fields,
    )


async def mark_needs_reauth(pool: Pool, *, connection_id: uuid.UUID, reason: str) -> None:
    """The connection can no longer be used until the user re-authorises it."""
    await set_unusable(
        pool, connection_id=connection_id, status=ConnectionStatus.NEEDS_REAUTH, reason=reason
    )


async def set_unusable(
    pool: Pool, *, connection_id: uuid.UUID, status: ConnectionStatus, reason: str
) -> Connection | None:
    """Move a usable connection (active or error) to ``needs_reauth`` or ``revoked``; the
    connection as changed, or None when it was not usable (already moved, or deleted)."""
    row = await pool.fetchrow(
        """UPDATE connections SET status = $2, status_reason = $3, updated_at = now()
           WHERE id = $1 AND status IN ('active', 'error') RETURNING *""",
        connection_id,
        status,
        reason,
    )
    return None if row is None else _connection(row)


async def record_refresh_failure(
    pool: Pool, *, connection_id: uuid.UUID, reason: str, error_after: int
) -> Connection | None:
    """Count a refresh that failed for network or server reasons; the ``error_after``-th in
    a row moves an active connection to ``error`` with ``reason``. The connection as it
    stands after, or None when it is not usable."""
    row = await pool.fetchrow(
        """UPDATE connections SET refresh_failures = refresh_failures + 1,
               status = CASE WHEN refresh_failures + 1 >= $3 THEN 'error' ELSE status END,
               status_reason = CASE WHEN refresh_failures + 1 >= $3 THEN $2 ELSE status_reason END
           WHERE id = $1 AND status IN ('active', 'error') RETURNING *""",
        connection_id,
        reason,
        error_after,
    )
    return None if row is None else _connection(row)


@dataclass(frozen=True, slots=True)
class RefreshDue:
    """A connection whose access token the refresh cron renews before it expires."""

    id: uuid.UUID
    tenant: Tenant


async def claim_refreshes_due(
    pool: Pool, *, ahead: float, hold: float, limit: int
) -> list[RefreshDue]:
    """Up to ``limit`` usable connections whose token expires within ``ahead`` seconds,
    soonest first, each held from the next scans for ``hold`` seconds (a refresh moves its
    expiry out of reach; one that failed is tried again after that)."""
    rows = await pool.fetch(
        """UPDATE connections SET refresh_not_before = now() + make_interval(secs => $2)
           WHERE id IN (
               SELECT id FROM connections
               WHERE status IN ('active', 'error') AND credentials_expires_at IS NOT NULL
                 AND credentials_expires_at <= now() + make_interval(secs => $1)
                 AND (refresh_not_before IS NULL OR refresh_not_before <= now())
               ORDER BY credentials_expires_at LIMIT $3
               FOR UPDATE SKIP LOCKED)
           RETURNING id, client_id, environment""",
        ahead,
        hold,
        limit,
    )
    return [RefreshDue(r["id"], Tenant(r["client_id"], r["environment"])) for r in rows]


async def hold_refreshes(pool: Pool, *, connection_id: uuid.UUID) -> None:
    """Keep the refresh cron away from a connection it cannot refresh (no refresh token)
    until new credentials are stored."""
    await pool.execute(
        "UPDATE connections SET refresh_not_before = 'infinity' WHERE id = $1", connection_id
    )


# --- revocations owed to providers --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwedRevocation:
    """A deleted connection's credentials, kept until its provider revoked them."""

    connection_id: uuid.UUID
    tenant: Tenant
    app: str
    fields: dict[str, str]
    credentials: Sealed
    attempts: int


async def claim_revocations_due(pool: Pool, *, limit: int, lease: float) -> list[OwedRevocation]:
    """Up to ``limit`` revocations due, oldest first, each counted as attempted and held for
    ``lease`` seconds (a worker that dies mid-attempt leaves it to be tried again then)."""
    rows = await pool.fetch(
        """UPDATE connection_revocations
           SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           WHERE connection_id IN (
               SELECT connection_id FROM connection_revocations WHERE next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        limit,
        lease,
    )
    return [
        OwedRevocation(
            r["connection_id"],
            Tenant(r["client_id"], r["environment"]),
            r["app"],
            r["fields"],
            Sealed(r["credentials"], r["credentials_nonce"], r["credentials_key_id"]),
            r["attempts"],
        )
        for r in rows
    ]


async def settle_revocation(pool: Pool, *, connection_id: uuid.UUID) -> None:
    """Forget a revocation: done, nothing to revoke, or given up."""
    await pool.execute("DELETE FROM connection_revocations WHERE connection_id = $1", connection_id)


async def retry_revocation(
    pool: Pool, *, connection_id: uuid.UUID, delay: float, error: str
) -> None:
    """Try a failed revocation again in ``delay`` seconds; ``error`` says why (no secrets)."""
    await pool.execute(
        """UPDATE connection_revocations
           SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3
           WHERE connection_id = $1""",
        connection_id,
        delay,
        error,
    )
