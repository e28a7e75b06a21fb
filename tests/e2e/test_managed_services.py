"""Managed PostgreSQL and Redis as production has them, stood in for by private servers:
PostgreSQL over TLS (every sslmode that verifies), PgBouncer in transaction pooling mode,
Redis over TLS with a password, Redis Sentinel (with a failover).

Each test runs the event path end to end where it matters: the gateway ingests events, an
arq worker fans them out and runs their executions (an outbound call to the sandbox app).
"""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.clients import store as clients
from shared.config import Settings
from shared.infra import db
from shared.infra.migrate import migrate
from shared.resources import redis_pool, redis_settings
from tests.helpers import TEST_ENCRYPTION_KEY, Api, AppFactory, eventually
from tests.managed import (
    Authority,
    PrivatePostgres,
    pgbouncer,
    private_postgres,
    redis_sentinel,
    service_folder,
    tls_redis,
)
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    arranged,
    run_queued,
    running_worker,
    send,
    worker_settings,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ca() -> Iterator[Authority]:
    """A CA of the tests' own, in a folder every service user can read."""
    folder = service_folder()
    folder.chmod(0o755)
    try:
        yield Authority.create(folder)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(ca: Authority) -> Iterator[PrivatePostgres]:
    """A private PostgreSQL with TLS on (its certificate signed by ``ca``)."""
    try:
        with private_postgres(ca) as server:
            yield server
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL's server binaries are not installed here: {exc}")


def _tls(ca: Authority, mode: str = "verify-full", **values: Any) -> Settings:
    return Settings(
        database_ssl_mode=mode,
        database_ssl_root_cert=str(ca.cert_path),
        encryption_key=TEST_ENCRYPTION_KEY,
        db_pool_min=1,
        db_pool_max=4,
        **values,
    )


async def _ssl_in_use(settings: Settings) -> bool:
    pool = await db.create_pool(settings)
    try:
        in_use: bool = await pool.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        return in_use
    finally:
        await pool.close()


async def test_postgres_over_tls_verifies_the_server(
    postgres: PrivatePostgres, ca: Authority, tmp_path: Path
) -> None:
    # verify-full: the chain to our CA and the host name (the certificate names 127.0.0.1).
    assert await _ssl_in_use(_tls(ca, database_url=postgres.url()))
    # The same server by another address: verify-full refuses it, verify-ca does not.
    other_host = postgres.url(host="127.0.0.2")
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        await _ssl_in_use(_tls(ca, database_url=other_host))
    assert await _ssl_in_use(_tls(ca, "verify-ca", database_url=other_host))
    # A certificate from a CA we do not trust: refused by both.
    stranger = Authority.create(tmp_path, "Someone else")
    for mode in ("verify-ca", "verify-full"):
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            await _ssl_in_use(_tls(stranger, mode, database_url=postgres.url()))
    # require: encrypted without checking; disable: in the clear.
    assert await _ssl_in_use(_tls(stranger, "require", database_url=postgres.url()))
    assert not await _ssl_in_use(_tls(ca, "disable", database_url=postgres.url()))
    # None: the URL decides (libpq's sslmode parameter).
    assert await _ssl_in_use(
        Settings(
            database_url=postgres.url() + f"?sslmode=verify-full&sslrootcert={ca.cert_path}",
            encryption_key=TEST_ENCRYPTION_KEY,
            db_pool_min=1,
        )
    )


@contextlib.asynccontextmanager
async def _database(postgres: PrivatePostgres, ca: Authority) -> AsyncIterator[str]:
    """A fresh database on the private server, migrated over TLS; its name."""
    name = f"linkport_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres.url(), ssl="require")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _events_run(
    make_client: AppFactory,
    *,
    pool: db.Pool,
    events: int,
    worker_overrides: dict[str, Any] | None = None,
    **gateway: Any,
) -> Api:
    """A tenant on a gateway started with ``gateway`` settings, a sandbox connection and the
    contact workflow; ``events`` sent and run by a worker: every execution succeeded."""
    http = await make_client(**gateway)
    issued = await clients.create_client(pool, name="Managed", environment="test")
    api = await Api.for_credentials(http, pool, issued)
    await arranged(api)
    sent = [
        await send(api, {**CONTACT_SAMPLE, "email": f"m{i}@example.com"}) for i in range(events)
    ]
    await run_queued(worker_settings(api, **(worker_overrides or {})))
    statuses = await pool.fetch(
        "SELECT status, count(*) FROM executions WHERE event_id = ANY($1::uuid[]) GROUP BY 1",
        [uuid.UUID(e) for e in sent],
    )
    assert {r["status"]: r["count"] for r in statuses} == {"succeeded": events}
    contacts = await pool.fetchval("SELECT count(*) FROM sandbox_contacts")
    assert contacts >= events
    return api


async def test_pgbouncer_in_transaction_mode_with_tls_to_postgres(
    postgres: PrivatePostgres, ca: Authority, make_client: AppFactory
) -> None:
    """Gateway and worker through PgBouncer (transaction pooling, 5 server connections for
    up to 20 clients each) with asyncpg's statement cache off; migrations straight to
    PostgreSQL over TLS, as ``LINKPORT_MIGRATION_DATABASE_URL`` does. PgBouncer itself
    reaches PostgreSQL over TLS (verify-full against the CA)."""
    async with _database(postgres, ca) as name:
        direct = _tls(ca, database_url=postgres.url(name))
        applied = await migrate(postgres.url(name), **db.connect_options(direct))
        assert applied, "migrations ran over TLS"
        try:
            with pgbouncer(postgres, name) as port:
                bounced = f"postgresql://postgres@127.0.0.1:{port}/{name}"
                through = {
                    "database_url": bounced,
                    "database_statement_cache_size": 0,
                    "database_ssl_mode": "disable",  # loopback to PgBouncer
                }
                pool = await db.create_pool(
                    Settings.model_validate({**through, "db_pool_min": 1, "db_pool_max": 4})
                )
                try:
                    await _events_run(
                        make_client, pool=pool, events=30, worker_overrides=through, **through
                    )
                    # The ingest path concurrently: 20 clients on 5 server connections.
                    import asyncio

                    # One account sends all 200: its rate limit (100/s) is not what this tests.
                    http = await make_client(**through, rate_limit_account=0)
                    issued = await clients.create_client(pool, name="Busy", environment="test")
                    busy = await Api.for_credentials(http, pool, issued)
                    await busy.call(
                        "POST",
                        "/v1/event-definitions",
                        {"name": "ping", "sample": {"n": 1}},
                    )
                    await busy.call(
                        "POST", "/v1/linked-accounts", {"linked_account_id": "u1", "name": "U"}
                    )
                    replies = await asyncio.gather(
                        *(
                            busy.call(
                                "POST",
                                "/v1/events",
                                {"event": "ping", "linked_account_id": "u1", "payload": {"n": i}},
                            )
                            for i in range(200)
                        )
                    )
                    assert [r.status for r in replies] == [202] * 200
                finally:
                    await pool.close()
        except FileNotFoundError:
            pytest.fail(
                "pgbouncer is not installed: `make test` installs it (apt-get install pgbouncer)"
            )


async def test_gateway_and_worker_on_postgres_over_tls(
    postgres: PrivatePostgres, ca: Authority, make_client: AppFactory
) -> None:
    """The whole event path with every PostgreSQL connection verify-full over TLS."""
    async with _database(postgres, ca) as name:
        tls = {
            "database_url": postgres.url(name),
            "database_ssl_mode": "verify-full",
            "database_ssl_root_cert": str(ca.cert_path),
        }
        settings = Settings.model_validate({**tls, "db_pool_min": 1, "db_pool_max": 4})
        await migrate(settings.database_url, **db.connect_options(settings))
        pool = await db.create_pool(settings)
        try:
            await _events_run(make_client, pool=pool, events=5, worker_overrides=tls, **tls)
            ssl_sessions = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                "WHERE a.datname = $1 AND NOT s.ssl",
                name,
            )
            assert ssl_sessions == 0, "every connection to the database uses TLS"
        finally:
            await pool.close()


async def test_redis_over_tls_with_a_password(
    ca: Authority, make_client: AppFactory, pool: db.Pool, tmp_path: Path
) -> None:
    """rediss:// with a password and the CA bundle: the gateway (tokens, queue, pub/sub) and
    the worker's arq pool; a server certificate from another CA is refused."""
    password = "s3cret-" + uuid.uuid4().hex[:8]
    with tls_redis(ca, tmp_path, password=password) as port:
        over_tls = {
            "redis_url": f"rediss://:{password}@127.0.0.1:{port}/2",
            "redis_ssl_ca_certs": str(ca.cert_path),
        }
        arq_settings = redis_settings(Settings.model_validate(over_tls))
        assert arq_settings.ssl
        assert arq_settings.ssl_ca_certs == str(ca.cert_path)
        await _events_run(make_client, pool=pool, events=5, worker_overrides=over_tls, **over_tls)

        stranger = Authority.create(tmp_path, "Someone else")
        untrusting = Redis(
            connection_pool=redis_pool(
                Settings.model_validate({**over_tls, "redis_ssl_ca_certs": str(stranger.cert_path)})
            )
        )
        with pytest.raises(RedisConnectionError, match="certificate verify failed"):
            await untrusting.ping()
        await untrusting.aclose()


# Killing the master mid-connection leaves redis-py to drop a socket to it unclosed now and
# then (its own connection objects, garbage-collected after the failover): not ours to fix.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_redis_sentinel_and_a_failover(
    make_client: AppFactory, pool: db.Pool, tmp_path: Path
) -> None:
    """The gateway and the worker find the master through a sentinel. The master is killed:
    the sentinel promotes the replica, and both follow it. Events accepted meanwhile are
    durable (their enqueue may fail: the sweeper enqueues them on the new master)."""
    password = "s3cret-" + uuid.uuid4().hex[:8]
    with redis_sentinel(tmp_path, password=password) as servers:
        via_sentinel = {
            # host and port are not used: the sentinels name the master
            "redis_url": f"redis://:{password}@sentinel-named-master/3",
            "redis_sentinels": f"127.0.0.1:{servers.sentinel_port}",
            "redis_sentinel_master": servers.master_name,
        }
        api = await _events_run(
            make_client, pool=pool, events=3, worker_overrides=via_sentinel, **via_sentinel
        )
        servers.kill_master()
        sentinel = Redis(host="127.0.0.1", port=servers.sentinel_port)
        try:

            async def master_port() -> int:
                _host, port = await sentinel.execute_command(  # type: ignore[no-untyped-call]
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", servers.master_name
                )
                return int(port)

            await eventually(master_port, lambda p: p == servers.replica_port, timeout=30)
        finally:
            await sentinel.aclose()

        statuses = []
        for i in range(5):
            reply = await api.call(
                "POST",
                "/v1/events",
                {"event": "contact.created", "linked_account_id": "user_12345",
                 "payload": {**CONTACT_SAMPLE, "email": f"after{i}@example.com"}},
            )  # fmt: skip
            statuses.append(reply.status)
        assert statuses == [202] * 5  # durable in Postgres whatever Redis did
        async with running_worker(worker_settings(api, **via_sentinel)):

            async def succeeded() -> int:
                done: int = await pool.fetchval(
                    "SELECT count(*) FROM executions WHERE status = 'succeeded'"
                )
                return done

            await eventually(succeeded, lambda n: n == 8, timeout=30)
