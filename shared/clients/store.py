"""Clients (tenants), their environments, settings and hashed credentials."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from shared.clients.models import ApiKey, ClientSettings, IssuedCredentials, KeyKind
from shared.infra import tokens
from shared.infra.db import AnyConnection, Pool, Record
from shared.tenancy import ENVIRONMENTS, Environment, ServerPrincipal, Tenant


async def create_client(pool: Pool, *, name: str, environment: Environment) -> IssuedCredentials:
    """A new tenant with both environments, and credentials for ``environment``."""
    client_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO clients (id, name) VALUES ($1, $2)", client_id, name)
        public_ids = {}
        for env in ENVIRONMENTS:
            public_ids[env] = tokens.mint(tokens.client_id_prefix(env), 12)
            await conn.execute(
                """INSERT INTO environments (client_id, environment, public_client_id)
                   VALUES ($1, $2, $3)""",
                client_id,
                env,
                public_ids[env],
            )
        tenant = Tenant(client_id, environment)
        secret = await _insert_key(conn, tenant, KeyKind.CLIENT_SECRET, None)
        api_key = await _insert_key(conn, tenant, KeyKind.API_KEY, "default")
    return IssuedCredentials(public_ids[environment], secret, api_key, environment, name)


async def add_credentials(
    pool: Pool, *, public_client_id: str, environment: Environment
) -> IssuedCredentials | None:
    """A new client secret and API key for another environment of an existing client."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """SELECT c.id, c.name FROM environments e JOIN clients c ON c.id = e.client_id
               WHERE e.public_client_id = $1""",
            public_client_id,
        )
        if row is None:
            return None
        tenant = Tenant(row["id"], environment)
        env_public_id = await conn.fetchval(
            "SELECT public_client_id FROM environments WHERE client_id = $1 AND environment = $2",
            row["id"],
            environment,
        )
        secret = await _insert_key(conn, tenant, KeyKind.CLIENT_SECRET, None)
        api_key = await _insert_key(conn, tenant, KeyKind.API_KEY, "default")
    return IssuedCredentials(env_public_id, secret, api_key, environment, row["name"])


async def _insert_key(conn: AnyConnection, tenant: Tenant, kind: KeyKind, name: str | None) -> str:
    prefix = (
        tokens.client_secret_prefix(tenant.environment)
        if kind is KeyKind.CLIENT_SECRET
        else tokens.api_key_prefix(tenant.environment)
    )
    secret = tokens.mint(prefix)
    await conn.execute(
        """INSERT INTO api_keys (id, client_id, environment, kind, secret_hash, hint, name)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        uuid.uuid4(),
        tenant.client_id,
        tenant.environment,
        kind,
        tokens.digest(secret),
        tokens.hint(secret, prefix),
        name,
    )
    return secret


async def find_by_client_secret(
    pool: Pool, *, public_client_id: str, secret_hash: bytes
) -> ServerPrincipal | None:
    """The principal whose ``client_id`` header and hashed ``client_secret`` match."""
    row = await pool.fetchrow(
        """SELECT k.id, k.client_id, k.environment, k.secret_hash
           FROM environments e
           JOIN api_keys k ON k.client_id = e.client_id AND k.environment = e.environment
           WHERE e.public_client_id = $1 AND k.secret_hash = $2
             AND k.kind = 'client_secret' AND k.revoked_at IS NULL""",
        public_client_id,
        secret_hash,
    )
    if row is None or not tokens.same_digest(row["secret_hash"], secret_hash):
        return None
    return ServerPrincipal(Tenant(row["client_id"], row["environment"]), row["id"])


async def find_by_api_key(pool: Pool, *, key_hash: bytes) -> ServerPrincipal | None:
    """The principal of an unrevoked API key with this hash."""
    row = await pool.fetchrow(
        """SELECT id, client_id, environment, secret_hash FROM api_keys
           WHERE secret_hash = $1 AND kind = 'api_key' AND revoked_at IS NULL""",
        key_hash,
    )
    if row is None or not tokens.same_digest(row["secret_hash"], key_hash):
        return None
    return ServerPrincipal(Tenant(row["client_id"], row["environment"]), row["id"])


def _api_key(row: Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        kind=KeyKind(row["kind"]),
        name=row["name"],
        hint=row["hint"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create_api_key(pool: Pool, *, tenant: Tenant, name: str | None) -> tuple[str, ApiKey]:
    """A new API key: the secret (shown once) and its public facts."""
    async with pool.acquire() as conn, conn.transaction():
        secret = await _insert_key(conn, tenant, KeyKind.API_KEY, name)
        row = await conn.fetchrow(
            "SELECT * FROM api_keys WHERE secret_hash = $1", tokens.digest(secret)
        )
    assert row is not None
    return secret, _api_key(row)


async def list_api_keys(pool: Pool, *, tenant: Tenant) -> list[ApiKey]:
    """Every key and client secret of the tenant, newest first, revoked ones included."""
    rows = await pool.fetch(
        """SELECT * FROM api_keys WHERE client_id = $1 AND environment = $2
           ORDER BY created_at DESC, id""",
        tenant.client_id,
        tenant.environment,
    )
    return [_api_key(r) for r in rows]


async def revoke_api_key(pool: Pool, *, tenant: Tenant, key_id: UUID) -> ApiKey | None:
    """Revoke one of the tenant's keys (idempotent); None when the tenant has no such key."""
    row = await pool.fetchrow(
        """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING *""",
        key_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _api_key(row)


_SETTINGS_SQL = """
    SELECT e.*, c.name FROM environments e JOIN clients c ON c.id = e.client_id
    WHERE e.client_id = $1 AND e.environment = $2"""


async def get_settings(pool: Pool, *, tenant: Tenant) -> ClientSettings:
    """The tenant's settings (the environment row always exists for an authenticated tenant)."""
    row = await pool.fetchrow(
        _SETTINGS_SQL,
        tenant.client_id,
        tenant.environment,
    )
    assert row is not None
    return _settings(row)


async def update_settings(pool: Pool, *, tenant: Tenant, changes: dict[str, Any]) -> ClientSettings:
    """Apply the given changes (``name`` is client-wide, the rest per environment)."""
    async with pool.acquire() as conn, conn.transaction():
        if "name" in changes:
            await conn.execute(
                "UPDATE clients SET name = $2 WHERE id = $1", tenant.client_id, changes["name"]
            )
        env_changes = {k: v for k, v in changes.items() if k != "name"}
        if env_changes:
            # Column names come from the update model's fixed field list, never from input keys.
            assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(env_changes, start=3))
            await conn.execute(
                f"""UPDATE environments SET {assignments}, updated_at = now()
                    WHERE client_id = $1 AND environment = $2""",  # noqa: S608
                tenant.client_id,
                tenant.environment,
                *env_changes.values(),
            )
        row = await conn.fetchrow(
            _SETTINGS_SQL,
            tenant.client_id,
            tenant.environment,
        )
    assert row is not None
    return _settings(row)


def _settings(row: Record) -> ClientSettings:
    return ClientSettings(
        public_client_id=row["public_client_id"],
        environment=row["environment"],
        name=row["name"],
        color=row["color"],
        callback_url=row["callback_url"],
        allowed_redirect_urls=tuple(row["allowed_redirect_urls"]),
        allowed_origins=(
            tuple(row["allowed_origins"]) if row["allowed_origins"] is not None else None
        ),
    )
