"""PostgreSQL and Redis outages under a running ``linkport serve`` (issue 9, defect 2).

Each test has a PostgreSQL and a Redis server of its own (``private_servers``), stops or
freezes one while the gateway serves, and checks what callers and operators see: a JSON 503
``service_unavailable`` with ``Retry-After`` within a bound, an honest and fast ``/readyz``,
one log line per outage (no traceback per request), and recovery without a restart.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from shared.clients import store as clients
from shared.config import Settings
from shared.infra import db
from shared.infra.crypto import generate_key
from shared.infra.migrate import migrate
from tests.private_servers import PrivatePostgres, PrivateRedis
from tests.processes import free_port, linkport_env, start, stop, wait_ready

pytestmark = pytest.mark.e2e

DEADLINE = 2.0  # LINKPORT_REQUEST_DEADLINE for these gateways (the default is 10 s)
FIGURES: dict[str, str] = {}


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    base_url: str
    api_key: str
    log: Path
    http: aiohttp.ClientSession

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    async def call(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, dict[str, str], float]:
        """(status, JSON body, headers, seconds taken)."""
        started = time.monotonic()
        async with self.http.request(
            method, self.base_url + path, json=body, headers=self.headers
        ) as response:
            raw = await response.read()
            return (
                response.status,
                json.loads(raw) if raw else None,
                dict(response.headers),
                time.monotonic() - started,
            )

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def log_text(self) -> str:
        return self.log.read_text()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> float:
    """Poll ``check`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    postgres, redis = PrivatePostgres(), PrivateRedis()
    process = None
    try:
        postgres.start()
        redis.start()
        await postgres.ready()
        admin = await asyncpg.connect(postgres.url())
        await admin.execute("CREATE DATABASE linkport")
        await admin.close()
        database_url = postgres.url("linkport")
        await migrate(database_url)
        pool = await db.create_pool(Settings(database_url=database_url, db_pool_min=1))
        issued = await clients.create_client(pool, name="Outage Co", environment="test")
        await pool.close()

        port = free_port()
        env = linkport_env(
            LINKPORT_DATABASE_URL=database_url,
            LINKPORT_REDIS_URL=redis.url,
            LINKPORT_PORT=str(port),
            LINKPORT_BASE_URL=f"http://127.0.0.1:{port}",
            LINKPORT_LOG_LEVEL="INFO",
            LINKPORT_ENCRYPTION_KEY=generate_key(),
            LINKPORT_REQUEST_DEADLINE=str(DEADLINE),
            LINKPORT_DB_POOL_MIN="2",
        )
        log = tmp_path / "gateway.log"
        process = start("serve", env=env, log=log)
        base_url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_ready, base_url, process)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            yield Stack(postgres, redis, base_url, issued.api_key, log, http)
    finally:
        postgres.thaw()
        redis.thaw()
        if process is not None:
            assert stop(process) == 0, log.read_text()[-3000:]
        postgres.close()
        redis.close()


async def _arrange_event(stack: Stack) -> dict[str, Any]:
    """An event definition and a linked account, so ``POST /v1/events`` answers 202."""
    status, _, _, _ = await stack.call(
        "POST", "/v1/event-definitions", {"name": "signup", "sample": {"email": "a@b.c"}}
    )
    assert status == 201
    status, _, _, _ = await stack.call("POST", "/v1/linked-accounts", {"linked_account_id": "u1"})
    assert status in (200, 201)
    event = {"event": "signup", "linked_account_id": "u1", "payload": {"email": "x@y.z"}}
    status, body, _, _ = await stack.call("POST", "/v1/events", event)
    assert status == 202, body
    return event


def _assert_unavailable(status: int, body: Any, headers: dict[str, str]) -> None:
    assert status == 503, body
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["request_id"]
    assert int(headers["Retry-After"]) >= 1


async def _assert_one_outage(stack: Stack, dependency: str) -> None:
    """One line when the outage began, one when it ended, and no traceback."""

    async def recovery_logged() -> bool:
        return any(
            line.get("event") == "dependency_recovered" and line.get("dependency") == dependency
            for line in stack.log_lines()
        )

    await eventually(recovery_logged, timeout=10, what="dependency_recovered logged")
    lines = stack.log_lines()
    unavailable = [
        line
        for line in lines
        if line.get("event") == "dependency_unavailable" and line.get("dependency") == dependency
    ]
    assert len(unavailable) == 1, unavailable
    assert not [line for line in lines if line.get("event") == "unhandled_error"]
    assert "Traceback" not in stack.log_text()


async def test_postgres_stopped_answers_503_fast_then_recovers(stack: Stack) -> None:
    event = await _arrange_event(stack)
    stack.postgres.stop()

    slowest = 0.0
    for _ in range(20):
        for method, path, body in (
            ("POST", "/v1/events", event),
            ("GET", "/v1/linked-accounts", None),
        ):
            status, reply, headers, took = await stack.call(method, path, body)
            _assert_unavailable(status, reply, headers)
            slowest = max(slowest, took)
    assert slowest < 1.0
    status, ready, _, ready_took = await stack.call("GET", "/readyz")
    assert (status, ready["postgres"], ready["redis"]) == (503, "unreachable", "ok")
    assert ready_took < 2.5

    restarted = time.monotonic()
    stack.postgres.start()

    async def serving() -> bool:
        status, _, _, _ = await stack.call("POST", "/v1/events", event)
        return status == 202

    await eventually(serving, timeout=30, what="events accepted after PostgreSQL restarted")
    recovered = time.monotonic() - restarted
    status, _, _, _ = await stack.call("GET", "/readyz")
    assert status == 200
    await _assert_one_outage(stack, "postgres")
    FIGURES["postgres stopped"] = (
        f"40 requests: 503 within {slowest * 1000:.0f} ms (slowest); /readyz 503 in "
        f"{ready_took * 1000:.0f} ms; 202 again {recovered:.2f} s after the restart began"
    )
    print(FIGURES["postgres stopped"])


async def test_postgres_frozen_answers_503_within_the_deadline(stack: Stack) -> None:
    event = await _arrange_event(stack)
    stack.postgres.freeze()
    try:
        results = await asyncio.gather(
            *(stack.call("POST", "/v1/events", event) for _ in range(10)),
            *(stack.call("GET", "/v1/linked-accounts") for _ in range(10)),
        )
        for status, reply, headers, _ in results:
            _assert_unavailable(status, reply, headers)
        slowest = max(took for *_, took in results)
        assert slowest < DEADLINE + 1.0, slowest

        status, ready, _, ready_took = await stack.call("GET", "/readyz")
        assert (status, ready["postgres"], ready["redis"]) == (503, "unreachable", "ok")
        assert ready_took < 2.5, ready_took
        # again, while the first probe is still stuck: no pile-up, same bound
        status, _, _, ready_again = await stack.call("GET", "/readyz")
        assert status == 503
        assert ready_again < 2.5, ready_again
    finally:
        stack.postgres.thaw()
    thawed = time.monotonic()

    async def serving() -> bool:
        status, _, _, _ = await stack.call("POST", "/v1/events", event)
        return status == 202

    await eventually(serving, timeout=40, what="events accepted after PostgreSQL resumed")
    recovered = time.monotonic() - thawed
    await _assert_one_outage(stack, "postgres")
    FIGURES["postgres frozen"] = (
        f"20 concurrent requests: 503 within {slowest:.2f} s (deadline {DEADLINE:g} s); "
        f"/readyz 503 in {ready_took:.2f} s and {ready_again:.2f} s; "
        f"202 again {recovered:.2f} s after SIGCONT"
    )
    print(FIGURES["postgres frozen"])


async def test_redis_stopped_answers_503_then_recovers(stack: Stack) -> None:
    session = {"linked_account_id": "u1"}
    status, _, _, _ = await stack.call("POST", "/v1/linked-accounts", session)
    assert status == 201
    status, _, _, _ = await stack.call("POST", "/v1/session-tokens", session)
    assert status == 201
    stack.redis.stop()

    slowest = 0.0
    for _ in range(20):
        status, reply, headers, took = await stack.call("POST", "/v1/session-tokens", session)
        _assert_unavailable(status, reply, headers)
        slowest = max(slowest, took)
    assert slowest < 1.0
    status, ready, _, ready_took = await stack.call("GET", "/readyz")
    assert (status, ready["postgres"], ready["redis"]) == (503, "ok", "unreachable")
    assert ready_took < 2.5

    restarted = time.monotonic()
    stack.redis.start()

    async def serving() -> bool:
        status, _, _, _ = await stack.call("POST", "/v1/session-tokens", session)
        return status == 201

    await eventually(serving, timeout=30, what="session tokens issued after Redis restarted")
    recovered = time.monotonic() - restarted
    await _assert_one_outage(stack, "redis")
    FIGURES["redis stopped"] = (
        f"20 requests: 503 within {slowest * 1000:.0f} ms (slowest); /readyz 503 in "
        f"{ready_took * 1000:.0f} ms; 201 again {recovered:.2f} s after the restart began"
    )
    print(FIGURES["redis stopped"])
