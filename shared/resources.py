"""The composition root: opens what a process needs (pool, Redis, keys, HTTP client) from settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from shared.apps.defaults import load_oauth_defaults
from shared.caches import Caches
from shared.config import Settings
from shared.connectors.catalog import Catalog, load_catalog
from shared.infra import db
from shared.infra.crypto import Keyring
from shared.infra.observed_outbound import ObservedOutboundClient
from shared.infra.outbound import OutboundClient
from shared.infra.queue import job_deserializer, job_serializer


@dataclass
class Resources:
    """Everything a handler or a job needs, built once per process."""

    settings: Settings
    pool: db.Pool
    redis: ArqRedis
    caches: Caches
    keyring: Keyring
    http: OutboundClient  # every call to another server (OAuth, steps, proxy, webhooks)
    catalog: Catalog

    async def close(self) -> None:
        """Close the pool, the Redis connections and the HTTP client."""
        await self.http.close()
        await self.pool.close()
        await close_redis(self.redis)  # we built the pool, so we close it


async def close_redis(client: Redis) -> None:
    """Close a client and its pool, and, when the pool finds its master through sentinels,
    the connections to the sentinels (redis-py leaves those open)."""
    pool = client.connection_pool
    await client.aclose(close_connection_pool=True)
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    """``LINKPORT_REDIS_SENTINELS`` as (host, port) pairs (port 26379 when left out)."""
    addresses = []
    for entry in filter(None, (e.strip() for e in settings.redis_sentinels.split(","))):
        host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "26379")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def _tls(settings: Settings) -> bool:
    return settings.redis_url.startswith("rediss://")


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's Redis settings (the worker's poll loop) from Linkport's: the URL, its TLS CA
    bundle (``from_dsn`` reads none from the URL) and the sentinels, as ``redis_pool``."""
    base = RedisSettings.from_dsn(settings.redis_url)
    tls: dict[str, Any] = (
        {"ssl_ca_certs": settings.redis_ssl_ca_certs, "ssl_check_hostname": True}
        if _tls(settings)
        else {}
    )
    sentinels = sentinel_addresses(settings)
    if sentinels:
        # arq hands the sentinels only ssl=…: the master's certificate is checked against
        # the system's CAs there (see deploy/README.md).
        return dataclasses.replace(
            base, host=sentinels, sentinel=True, sentinel_master=settings.redis_sentinel_master
        )
    return dataclasses.replace(base, **tls)


def redis_pool(settings: Settings, **options: Any) -> ConnectionPool:
    """redis-py's connection pool for Linkport's Redis: the URL (``rediss://``: TLS, checked
    against ``redis_ssl_ca_certs`` or the system's CAs, host name included), or the master
    the sentinels name, with the URL's password, db and scheme. ``options``: socket options."""
    tls: dict[str, Any] = (
        {"ssl_ca_certs": settings.redis_ssl_ca_certs, "ssl_check_hostname": True}
        if _tls(settings)
        else {}
    )
    sentinels = sentinel_addresses(settings)
    if not sentinels:
        return ConnectionPool.from_url(settings.redis_url, **tls, **options)
    from_url = parse_url(settings.redis_url)
    master = {k: v for k, v in from_url.items() if k in ("db", "username", "password")}
    manager = Sentinel(  # type: ignore[no-untyped-call]
        sentinels, **{k: v for k, v in options.items() if k.startswith("socket_")}
    )
    return SentinelConnectionPool(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master,
        manager,
        ssl=_tls(settings),
        **master,
        **(tls if _tls(settings) else {}),
        **options,
    )


async def open_resources(settings: Settings) -> Resources:
    """Connect to Postgres and Redis (arq's client: it also enqueues jobs).

    Refuses to start without an encryption key: credentials could not be stored or read.
    """
    keyring = Keyring.from_settings(settings)
    load_oauth_defaults(settings.oauth_defaults_file)  # a bad file stops the process at start
    pool = await db.create_pool(settings)
    # No per-read socket timeout: redis-py wraps every read in a timer when one is set,
    # which cost ~20% of a link-token request. Dead peers are found by TCP keepalive and
    # the pool's health checks instead; connecting is bounded.
    redis = ArqRedis(
        connection_pool=redis_pool(
            settings,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=30,
        ),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=settings.queue_name,
    )
    try:
        await redis.ping()
    except BaseException:
        await pool.close()
        await redis.aclose(close_connection_pool=True)
        raise
    caches = Caches.create(ttl=settings.auth_cache_ttl, max_entries=settings.cache_max_entries)
    return Resources(
        settings,
        pool,
        redis,
        caches,
        keyring,
        outbound_client(settings),
        load_catalog(settings.catalog_overrides),
    )


def outbound_client(settings: Settings) -> OutboundClient:
    """The process's one outbound HTTP client, bounded by the outbound settings; every call
    logged, timed and (with tracing on) traced."""
    return ObservedOutboundClient(
        allowed=settings.outbound_allowed_networks,
        timeout=settings.outbound_timeout,
        max_bytes=settings.outbound_max_response_bytes,
        self_origin=settings.base_url,
    )
