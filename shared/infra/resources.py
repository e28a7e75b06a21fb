"""The composition root: opens what a process needs (pool, Redis, keys, HTTP client) from settings."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool

from shared.config import Settings
from shared.connectors.catalog import Catalog, load_catalog
from shared.infra import db
from shared.infra.crypto import Keyring
from shared.infra.invalidation import Caches
from shared.infra.outbound import guarded_session, parse_networks
from shared.infra.queue import job_deserializer, job_serializer


@dataclass
class Resources:
    """Everything a handler or a job needs, built once per process."""

    settings: Settings
    pool: db.Pool
    redis: ArqRedis
    caches: Caches
    keyring: Keyring
    http: aiohttp.ClientSession  # trusted destinations: catalog URLs the operator ships
    guarded_http: aiohttp.ClientSession  # URLs with parts a client or end user typed
    catalog: Catalog

    async def close(self) -> None:
        """Close the pool, the Redis connections and the HTTP client."""
        await self.http.close()
        await self.guarded_http.close()
        await self.pool.close()
        await self.redis.aclose(close_connection_pool=True)  # we built the pool, so we close it


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's Redis settings from Linkport's Redis URL."""
    return RedisSettings.from_dsn(settings.redis_url)


async def open_resources(settings: Settings) -> Resources:
    """Connect to Postgres and Redis (arq's client: it also enqueues jobs).

    Refuses to start without an encryption key: credentials could not be stored or read.
    """
    keyring = Keyring.from_settings(settings)
    pool = await db.create_pool(settings)
    # No per-read socket timeout: redis-py wraps every read in a timer when one is set,
    # which cost ~20% of a link-token request. Dead peers are found by TCP keepalive and
    # the pool's health checks instead; connecting is bounded.
    redis = ArqRedis(
        connection_pool=ConnectionPool.from_url(
            settings.redis_url,
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
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.outbound_timeout),
        headers={"User-Agent": "Linkport"},
    )
    guarded_http = guarded_session(
        parse_networks(settings.outbound_allowed_networks), settings.outbound_timeout
    )
    return Resources(settings, pool, redis, caches, keyring, http, guarded_http, load_catalog())
