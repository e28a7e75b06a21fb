"""Client settings: cached reads, announced writes, and the redirect allow-list rule."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis

from shared import caches as invalidation
from shared.caches import Caches, Invalidation
from shared.clients import store
from shared.clients.models import ClientSettings
from shared.errors import ApiError, ErrorCode
from shared.infra.db import Pool
from shared.tenancy import Tenant


async def get_settings(*, pool: Pool, caches: Caches, tenant: Tenant) -> ClientSettings:
    """The tenant's settings, from the cache when fresh."""
    cached = caches.client_settings.get(tenant)
    if cached is not None:
        return cached
    current = await store.get_settings(pool, tenant=tenant)
    caches.client_settings.put(tenant, current)
    return current


async def update_settings(
    *, pool: Pool, redis: Redis, caches: Caches, tenant: Tenant, changes: dict[str, Any]
) -> ClientSettings:
    """Apply changes and evict every replica's cached copy."""
    updated = await store.update_settings(pool, tenant=tenant, changes=changes)
    await invalidation.publish(
        redis,
        caches,
        Invalidation(kind="settings", client_id=tenant.client_id, environment=tenant.environment),
    )
    return updated


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", "", ""))


def is_redirect_allowed(settings: ClientSettings, url: str) -> bool:
    """A redirect URL is allowed when, without its query, it equals an allow-listed URL or the
    callback URL (scheme, host, port and path must all match; the query is the caller's)."""
    allowed = {_without_query(u) for u in settings.allowed_redirect_urls}
    if settings.callback_url:
        allowed.add(_without_query(settings.callback_url))
    return _without_query(url) in allowed


async def check_redirect_url(*, pool: Pool, caches: Caches, tenant: Tenant, url: str) -> None:
    """400 unless ``url`` is on the tenant's redirect allow-list."""
    settings = await get_settings(pool=pool, caches=caches, tenant=tenant)
    if not is_redirect_allowed(settings, url):
        raise ApiError(
            ErrorCode.INVALID_REDIRECT_URL,
            "redirect_url is not on this client's allowed_redirect_urls (see PATCH /v1/settings)",
            field="redirect_url",
        )
