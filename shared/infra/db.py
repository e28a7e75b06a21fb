"""The Postgres connection pool."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from shared.config import Settings

Pool = asyncpg.Pool
Record = asyncpg.Record
Connection = asyncpg.Connection
# What ``pool.acquire()`` hands out: a proxy with the connection's API.
AnyConnection = asyncpg.Connection | PoolConnectionProxy


# Seconds to open a new connection.
CONNECT_TIMEOUT = 5.0


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Connection) -> None:
    # jsonb columns travel as Python objects, encoded with orjson.
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: Connection) -> None:
    """Skip asyncpg's per-release reset (a round trip on every query): pooled connections
    carry no session state here (no LISTEN, no session settings, no advisory locks)."""


async def connect(dsn: str) -> Connection:
    """One connection with Linkport's codecs, for scripts and migrations."""
    conn: Connection = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def create_pool(settings: Settings) -> Pool:
    """A pool sized by settings; every connection has Linkport's codecs."""
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=settings.request_timeout,
        # Connecting is bounded (asyncpg waits 60 s by default): a server that accepts but
        # never answers, e.g. a stopped one, must not hold a request that long.
        timeout=CONNECT_TIMEOUT,
    )
    assert pool is not None
    return pool
