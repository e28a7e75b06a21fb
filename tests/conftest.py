"""Fixtures every folder may use: a real PostgreSQL database and Redis db number per run,
the gateway over HTTP, tenants, and fake third-party servers.

Each run creates its own database on the server named by ``LINKPORT_TEST_ADMIN_URL``
(default: the local server's ``test`` database) and claims a free Redis db number on
``LINKPORT_TEST_REDIS_URL``; both are released at the end. ``tests/integration`` and
``tests/e2e`` empty them before each test (``clean_state``); ``tests/unit`` needs neither.

Folders: ``unit/`` pure rules, ``integration/`` real Postgres + Redis with the gateway
in-process, ``e2e/`` real processes and a real browser, ``fakes/`` fake third-party servers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from linkport.dev import embedded_postgres, embedded_redis
from services.gateway.app import create_app
from shared.clients import store as clients
from shared.config import Settings
from shared.infra import db
from shared.infra.logs import configure_logging
from shared.infra.migrate import migrate
from shared.infra.outbound import OutboundClient, parse_networks
from tests.fakes import FakeT, StartFake, serve
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import (
    TEST_ENCRYPTION_KEY,
    TEST_QUEUE,
    Api,
    AppFactory,
    Client,
    with_database,
)
from tests.processes import free_port
from tests.webhook_fixtures import webhook_tenant

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379"
_CLAIM_KEY = "linkport-test:claim:{}"

configure_logging("WARNING", json=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(admin database URL, Redis URL without db): from the environment, the machine's own
    servers on loopback, or, when those are absent, embedded ones (as ``linkport dev`` uses)."""
    force_embedded = os.environ.get("LINKPORT_TEST_EMBEDDED") == "1"
    with contextlib.ExitStack() as stack:
        admin_url = os.environ.get("LINKPORT_TEST_ADMIN_URL")
        if admin_url is None:
            if _listening(5432) and not force_embedded:
                admin_url = LOCAL_ADMIN_URL
            else:
                admin_url = stack.enter_context(embedded_postgres(tmp_path_factory.mktemp("pg")))
        redis_url = os.environ.get("LINKPORT_TEST_REDIS_URL")
        if redis_url is None:
            if _listening(6379) and not force_embedded:
                redis_url = LOCAL_REDIS_URL
            else:
                redis_url = stack.enter_context(embedded_redis(tmp_path_factory.mktemp("redis")))
        yield admin_url, redis_url


@pytest.fixture(scope="session")
def admin_url(servers: tuple[str, str]) -> str:
    """A database URL on the test server with the right to create databases."""
    return servers[0]


@pytest.fixture(scope="session")
async def database_url(admin_url: str) -> AsyncIterator[str]:
    """A migrated database of this run's own."""
    name = f"linkport_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def redis_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    """A Redis db number no other test run holds (claimed on db 0, released at the end)."""
    base_url = servers[1]
    claims: Redis = Redis.from_url(base_url + "/0")
    run_id = uuid.uuid4().hex
    for number in range(1, 16):
        if await claims.set(_CLAIM_KEY.format(number), run_id, nx=True, ex=3600):
            break
    else:
        raise RuntimeError("no free Redis db number (1-15) for this test run")
    try:
        yield f"{base_url}/{number}"
    finally:
        if (await claims.get(_CLAIM_KEY.format(number))) == run_id.encode():
            await claims.delete(_CLAIM_KEY.format(number))
        await claims.aclose()


@pytest.fixture
async def settings(database_url: str, redis_url: str) -> Settings:
    """Settings pointing at this run's database and Redis db."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        log_level="WARNING",
        db_pool_min=1,
        encryption_key=TEST_ENCRYPTION_KEY,
        queue_name=TEST_QUEUE,
        # Every test calls from 127.0.0.1, and many send wrong credentials on purpose: the
        # shared gateway does not block the address (the hardening tests make their own).
        auth_failure_limit=0,
    )


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[db.Pool]:
    """A pool for tests to arrange and inspect rows directly."""
    pool = await db.create_pool(Settings(database_url=database_url, db_pool_min=1, db_pool_max=5))
    yield pool
    await pool.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on this run's Redis db."""
    client: Redis = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def clean_state(pool: db.Pool, redis_url: str) -> None:
    """Empty tables and an empty Redis db (autouse in integration/ and e2e/)."""
    await pool.execute(
        """TRUNCATE clients, environments, api_keys, orgs, linked_accounts, connections,
                    app_settings, sandbox_grants, sandbox_tokens, sandbox_calls, sandbox_contacts,
                    event_definitions, events, workflows, configs, executions, step_runs,
                    webhook_endpoints, webhook_messages, webhook_deliveries, webhook_attempts,
                    connection_revocations"""
    )
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[AppFactory]:
    """Start a gateway over real HTTP on loopback; keyword arguments override settings."""
    started: list[Client] = []

    async def start(app: web.Application | None = None, **overrides: Any) -> Client:
        port = free_port()  # known before start, so base_url (OAuth redirects) points here
        base_url = f"http://127.0.0.1:{port}"
        app = app or create_app(settings.model_copy(update={"base_url": base_url, **overrides}))
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


@pytest.fixture
async def http(make_client: AppFactory) -> Client:
    """A gateway with the test settings."""
    return await make_client()


@pytest.fixture
async def acme(pool: db.Pool, http: Client) -> Api:
    """A client (tenant) named Acme in the test environment, with a way to call the API as it."""
    issued = await clients.create_client(pool, name="Acme", environment="test")
    return await Api.for_credentials(http, pool, issued)


@pytest.fixture
async def globex(pool: db.Pool, http: Client) -> Api:
    """A second, unrelated tenant."""
    issued = await clients.create_client(pool, name="Globex", environment="test")
    return await Api.for_credentials(http, pool, issued)


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """Start fake third-party servers (tests/fakes) on loopback; they stop after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(fake: FakeT) -> FakeT:
            return await stack.enter_async_context(serve(fake))

        yield start


@pytest.fixture
async def hooks(make_client: AppFactory, pool: db.Pool) -> Api:
    """A tenant whose webhooks may reach loopback (fakes), retried on a short schedule."""
    return await webhook_tenant(make_client, pool)


@pytest.fixture
async def receiver(start_fake: StartFake) -> WebhookReceiver:
    """A client's webhook receiver on loopback (tests/fakes/webhook_receiver.py)."""
    return await start_fake(WebhookReceiver())


@pytest.fixture
async def guarded() -> AsyncIterator[OutboundClient]:
    """A client with no allow-list, as for any client-given URL in production."""
    client = OutboundClient(allowed=(), timeout=1.0, max_bytes=100_000)
    yield client
    await client.close()


@pytest.fixture
async def loopback_allowed() -> AsyncIterator[OutboundClient]:
    """A client whose operator allow-listed loopback (as tests do for local fakes)."""
    client = OutboundClient(allowed=parse_networks("127.0.0.0/8"), timeout=1.0, max_bytes=100_000)
    yield client
    await client.close()
