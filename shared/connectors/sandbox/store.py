"""The sandbox provider's own data: grants (one per consent), tokens, recorded calls, contacts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.infra.db import Pool, Record


@dataclass(frozen=True, slots=True)
class SandboxGrant:
    """One user's consent to one OAuth client."""

    id: uuid.UUID
    username: str
    client_id: str
    scopes: list[str]
    fault: str | None
    fault_remaining: int | None


def _grant(row: Record) -> SandboxGrant:
    return SandboxGrant(
        row["id"],
        row["username"],
        row["client_id"],
        list(row["scopes"]),
        row["fault"],
        row["fault_remaining"],
    )


async def create_grant(
    pool: Pool, *, username: str, client_id: str, scopes: list[str]
) -> uuid.UUID:
    """Record a consent; returns the grant id (the provider's account id for it)."""
    grant_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO sandbox_grants (id, username, client_id, scopes) VALUES ($1, $2, $3, $4)",
        grant_id,
        username,
        client_id,
        scopes,
    )
    return grant_id


async def add_tokens(
    pool: Pool,
    *,
    grant_id: uuid.UUID,
    access_hash: bytes,
    refresh_hash: bytes,
    access_expires_at: datetime,
) -> None:
    """Store a new access/refresh token pair (by hash)."""
    await pool.executemany(
        "INSERT INTO sandbox_tokens (token_hash, grant_id, kind, expires_at) VALUES ($1, $2, $3, $4)",
        [
            (access_hash, grant_id, "access", access_expires_at),
            (refresh_hash, grant_id, "refresh", None),
        ],
    )


async def use_refresh_token(pool: Pool, *, refresh_hash: bytes) -> SandboxGrant | None:
    """Spend a refresh token (each works once: rotation); its grant, or None."""
    row = await pool.fetchrow(
        """WITH spent AS (
               UPDATE sandbox_tokens SET used_at = now()
               WHERE token_hash = $1 AND kind = 'refresh' AND used_at IS NULL
               RETURNING grant_id)
           SELECT g.* FROM sandbox_grants g JOIN spent ON spent.grant_id = g.id""",
        refresh_hash,
    )
    return None if row is None else _grant(row)


async def grant_of_access_token(
    pool: Pool, *, access_hash: bytes
) -> tuple[SandboxGrant, bool] | None:
    """The grant of an access token and whether the token has expired, or None if unknown."""
    row = await pool.fetchrow(
        """SELECT g.*, (t.expires_at <= now()) AS expired
           FROM sandbox_tokens t JOIN sandbox_grants g ON g.id = t.grant_id
           WHERE t.token_hash = $1 AND t.kind = 'access'""",
        access_hash,
    )
    return None if row is None else (_grant(row), bool(row["expired"]))


async def take_fault(pool: Pool, *, grant_id: uuid.UUID) -> str | None:
    """The fault this call must suffer, counting it down (a fault with no count stays on)."""
    fault: str | None = await pool.fetchval(
        """WITH old AS (SELECT fault, fault_remaining FROM sandbox_grants WHERE id = $1 FOR UPDATE)
           UPDATE sandbox_grants g SET
               fault_remaining = CASE WHEN old.fault_remaining IS NULL THEN NULL
                                      ELSE old.fault_remaining - 1 END,
               fault = CASE WHEN old.fault_remaining = 1 THEN NULL ELSE old.fault END
           FROM old WHERE g.id = $1 AND old.fault IS NOT NULL
           RETURNING old.fault""",
        grant_id,
    )
    return fault


async def set_fault(
    pool: Pool, *, grant_id: uuid.UUID, fault: str | None, remaining: int | None
) -> None:
    """Switch a fault on (for ``remaining`` calls, or until switched off) or off."""
    await pool.execute(
        "UPDATE sandbox_grants SET fault = $2, fault_remaining = $3 WHERE id = $1",
        grant_id,
        fault,
        remaining if fault is not None else None,
    )


async def get_grant(pool: Pool, *, grant_id: uuid.UUID) -> SandboxGrant | None:
    """One grant, or None."""
    row = await pool.fetchrow("SELECT * FROM sandbox_grants WHERE id = $1", grant_id)
    return None if row is None else _grant(row)


async def expire_access_tokens(pool: Pool, *, grant_id: uuid.UUID) -> None:
    """Make every access token of the grant expired now (refresh tokens keep working)."""
    await pool.execute(
        "UPDATE sandbox_tokens SET expires_at = now() WHERE grant_id = $1 AND kind = 'access'",
        grant_id,
    )


async def record_call(
    pool: Pool,
    *,
    grant_id: uuid.UUID | None,
    method: str,
    path: str,
    body: Any,
    idempotency_key: str | None,
    status: int,
) -> None:
    """Keep a record of an API call, for tests and demos to inspect."""
    await pool.execute(
        """INSERT INTO sandbox_calls (grant_id, method, path, body, idempotency_key, status)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        grant_id,
        method,
        path,
        body,
        idempotency_key,
        status,
    )


async def create_contact(
    pool: Pool, *, grant_id: uuid.UUID, data: dict[str, Any], idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """Create a contact; with an idempotency key seen before, the earlier one. (contact, created)"""
    row = await pool.fetchrow(
        """INSERT INTO sandbox_contacts (grant_id, data, idempotency_key) VALUES ($1, $2, $3)
           ON CONFLICT (grant_id, idempotency_key) DO NOTHING RETURNING id, data, created_at""",
        grant_id,
        data,
        idempotency_key,
    )
    created = row is not None
    if row is None:
        row = await pool.fetchrow(
            """SELECT id, data, created_at FROM sandbox_contacts
               WHERE grant_id = $1 AND idempotency_key = $2""",
            grant_id,
            idempotency_key,
        )
    assert row is not None
    return {"id": row["id"], **row["data"], "created_at": row["created_at"].isoformat()}, created


async def list_contacts(pool: Pool, *, grant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The grant's contacts, oldest first."""
    rows = await pool.fetch(
        "SELECT id, data, created_at FROM sandbox_contacts WHERE grant_id = $1 ORDER BY id",
        grant_id,
    )
    return [{"id": r["id"], **r["data"], "created_at": r["created_at"].isoformat()} for r in rows]


async def list_calls(pool: Pool, *, grant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every API call made with the grant's tokens, oldest first."""
    rows = await pool.fetch(
        """SELECT method, path, body, idempotency_key, status, created_at FROM sandbox_calls
           WHERE grant_id = $1 ORDER BY id""",
        grant_id,
    )
    return [{**dict(r), "created_at": r["created_at"].isoformat()} for r in rows]
