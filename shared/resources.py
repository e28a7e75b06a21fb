"""The composition root: opens what a process needs (pool, Redis, keys, HTTP client) from settings."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool

from shared.caches import Caches
from shared.config import Settings
from shared.connectors.catalog import Catalog, load_catalog
from shared.infra import db
from shared.infra.crypto import Keyring
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
    return Resources(
        settings, pool, redis, caches, keyring, outbound_client(settings), load_catalog()
    )


def outbound_client(settings: Settings) -> OutboundClient:
    """The process's one outbound HTTP client, bounded by the outbound settings."""
    return OutboundClient(
        allowed=settings.outbound_allowed_networks,
        timeout=settings.outbound_timeout,
        max_bytes=settings.outbound_max_response_bytes,
        self_origin=settings.base_url,
    )
