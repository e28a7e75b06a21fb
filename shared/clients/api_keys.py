"""Authenticating product backends, and managing their API keys.

Lookups are cached briefly by the secret's hash so a request costs no database round
trip; a revocation evicts the entry on every gateway at once (see ``invalidation``).
"""

from __future__ import annotations

from uuid import UUID

from shared.clients import store
from shared.clients.schemas import ApiKeyCreated, ApiKeyRead
from shared.errors import not_found
from shared.infra import invalidation
from shared.infra.invalidation import Invalidation
from shared.infra.resources import Resources
from shared.tenancy import ServerPrincipal, Tenant
from shared.tokens import service as tokens


async def authenticate_client_secret(
    res: Resources, *, public_client_id: str, client_secret: str
) -> ServerPrincipal | None:
    """The principal for a ``client_id`` + ``client_secret`` pair, or None."""
    secret_hash = tokens.digest(client_secret)
    key = ("cs", public_client_id, secret_hash)
    principal = res.caches.principals.get(key)
    if principal is None:
        principal = await store.find_by_client_secret(
            res.pool, public_client_id=public_client_id, secret_hash=secret_hash
        )
        if principal is not None:
            res.caches.principals.put(key, principal)
    return principal


async def authenticate_api_key(res: Resources, *, api_key: str) -> ServerPrincipal | None:
    """The principal for an API key, or None."""
    key_hash = tokens.digest(api_key)
    key = ("sk", key_hash)
    principal = res.caches.principals.get(key)
    if principal is None:
        principal = await store.find_by_api_key(res.pool, key_hash=key_hash)
        if principal is not None:
            res.caches.principals.put(key, principal)
    return principal


async def create_api_key(res: Resources, *, tenant: Tenant, name: str | None) -> ApiKeyCreated:
    """A new API key for the tenant's environment, its secret shown this once."""
    secret, read = await store.create_api_key(res.pool, tenant=tenant, name=name)
    return ApiKeyCreated(**read.model_dump(), api_key=secret)


async def revoke_api_key(res: Resources, *, tenant: Tenant, key_id: UUID) -> ApiKeyRead:
    """Revoke a key or client secret; every gateway stops accepting it at once."""
    revoked = await store.revoke_api_key(res.pool, tenant=tenant, key_id=key_id)
    if revoked is None:
        raise not_found("api key")
    await invalidation.publish(
        res.redis,
        res.caches,
        Invalidation(
            kind="api_key",
            client_id=tenant.client_id,
            environment=tenant.environment,
            key_id=key_id,
        ),
    )
    return revoked
