"""Authenticating product backends, and managing their API keys.

Lookups are cached briefly by the secret's hash so a request costs no database round
trip; a revocation evicts the entry on every gateway at once (see ``invalidation``).
"""

from __future__ import annotations

from uuid import UUID

from redis.asyncio import Redis

from shared import caches as invalidation
from shared.caches import Caches, Invalidation
from shared.clients import store
from shared.clients.models import ApiKey
from shared.errors import not_found
from shared.infra import tokens
from shared.infra.db import Pool
from shared.tenancy import ServerPrincipal, Tenant


async def authenticate_client_secret(
    *, pool: Pool, caches: Caches, public_client_id: str, client_secret: str
) -> ServerPrincipal | None:
    """The principal for a ``client_id`` + ``client_secret`` pair, or None."""
    secret_hash = tokens.digest(client_secret)
    key = ("cs", public_client_id, secret_hash)
    principal = caches.principals.get(key)
    if principal is None:
        principal = await store.find_by_client_secret(
            pool, public_client_id=public_client_id, secret_hash=secret_hash
        )
        if principal is not None:
            caches.principals.put(key, principal)
    return principal


async def authenticate_api_key(
    *, pool: Pool, caches: Caches, api_key: str
) -> ServerPrincipal | None:
    """The principal for an API key, or None."""
    key_hash = tokens.digest(api_key)
    key = ("sk", key_hash)
    principal = caches.principals.get(key)
    if principal is None:
        principal = await store.find_by_api_key(pool, key_hash=key_hash)
        if principal is not None:
            caches.principals.put(key, principal)
    return principal


async def create_api_key(*, pool: Pool, tenant: Tenant, name: str | None) -> tuple[str, ApiKey]:
    """A new API key for the tenant's environment: its secret (to show this once) and its facts."""
    return await store.create_api_key(pool, tenant=tenant, name=name)


async def list_api_keys(*, pool: Pool, tenant: Tenant) -> list[ApiKey]:
    """Every key and client secret of the tenant, newest first, revoked ones included."""
    return await store.list_api_keys(pool, tenant=tenant)


async def revoke_api_key(
    *, pool: Pool, redis: Redis, caches: Caches, tenant: Tenant, key_id: UUID
) -> ApiKey:
    """Revoke a key or client secret; every gateway stops accepting it at once."""
    revoked = await store.revoke_api_key(pool, tenant=tenant, key_id=key_id)
    if revoked is None:
        raise not_found("api key")
    await invalidation.publish(
        redis,
        caches,
        Invalidation(
            kind="api_key",
            client_id=tenant.client_id,
            environment=tenant.environment,
            key_id=key_id,
        ),
    )
    return revoked
