"""The Postgres connection pool, and how every connection is made (TLS, PgBouncer)."""

from __future__ import annotations

import ssl
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


def ssl_context(mode: str | None, root_cert: str | None) -> ssl.SSLContext | str | None:
    """What asyncpg's ``ssl`` argument gets for an sslmode: None leaves it to the URL's
    ``sslmode`` (and libpq's environment, e.g. ``PGSSLROOTCERT``); ``verify-ca`` and
    ``verify-full`` check the server's certificate against ``root_cert`` (a CA bundle),
    else the system CAs, and ``verify-full`` also its name."""
    if mode is None:
        return None
    if mode in ("disable", "require"):
        return mode
    context = ssl.create_default_context(cafile=root_cert)
    context.check_hostname = mode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect_options(settings: Settings) -> dict[str, Any]:
    """asyncpg's connection arguments beyond the URL: TLS, and the prepared-statement cache
    (0 behind PgBouncer in transaction pooling mode, where a server connection serves
    another client's transaction next and knows nothing of this one's statements)."""
    options: dict[str, Any] = {"statement_cache_size": settings.database_statement_cache_size}
    context = ssl_context(settings.database_ssl_mode, settings.database_ssl_root_cert)
    if context is not None:
        options["ssl"] = context
    return options


async def connect(dsn: str, **options: Any) -> Connection:
    """One connection with Linkport's codecs, for scripts and migrations (``options``:
    ``connect_options(settings)``)."""
    conn: Connection = await asyncpg.connect(dsn, **options)
    await _init_connection(conn)
    return conn


async def create_pool(settings: Settings) -> Pool:
    """A pool sized by settings; every connection has Linkport's codecs.

    Behind PgBouncer in transaction mode nothing else changes: pooled connections carry no
    session state (``_keep_session``), transactions are explicit, and the only session-level
    lock is the migrations' (which therefore connect directly: ``migration_database_url``).
    """
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=settings.request_timeout,
        **connect_options(settings),
        # Connecting is bounded (asyncpg waits 60 s by default): a server that accepts but
        # never answers, e.g. a stopped one, must not hold a request that long.
        timeout=CONNECT_TIMEOUT,
    )
    assert pool is not None
    return pool
