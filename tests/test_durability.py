"""Nothing lost: Postgres is the guarantee, arq the fast path. Work survives a Redis flush
and a worker killed with SIGKILL in the middle of a step (a real process)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from services.gateway.appkeys import RESOURCES
from shared.executions import store as execution_store
from shared.executions.service import run_execution
from shared.infra import db
from shared.infra.resources import outbound_client
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_QUEUE
from tests.helpers import Api, eventually
from tests.processes import free_port, linkport_env, start, stop
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    arranged,
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
    running_worker,
    send,
    worker_settings,
)
from workers.worker import runner


async def _succeeded(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM executions WHERE status = 'succeeded'")
    return count


async def test_sweeper_recovers_every_event_after_a_redis_flush(
    acme: Api, pool: db.Pool, redis: Redis
) -> None:
    await arranged(acme)
    accepted = [
        await send(acme, {**CONTACT_SAMPLE, "email": f"f{i}@example.com"}) for i in range(10)
    ]
    assert await redis.zcard(TEST_QUEUE) == 10  # the fast path was taken...
    await redis.flushdb()  # ...and lost: only Postgres remembers
    async with running_worker(worker_settings(acme)):
        await eventually(lambda: _succeeded(pool), lambda n: n == len(accepted), timeout=20)
    assert await pool.fetchval("SELECT count(*) FROM events WHERE status = 'fanned_out'") == len(
        accepted
    )
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == len(accepted)


async def test_flush_between_fan_out_and_execution_loses_nothing(
    acme: Api, pool: db.Pool, redis: Redis
) -> None:

    await arranged(acme)
    accepted = [
        await send(acme, {**CONTACT_SAMPLE, "email": f"g{i}@example.com"}) for i in range(5)
    ]
    for event_id in accepted:
        import uuid

        await execution_store.fan_out_events(
            acme.http.app[RESOURCES].pool, event_ids=[uuid.UUID(event_id)]
        )
    await redis.flushdb()
    async with running_worker(worker_settings(acme)):
        await eventually(lambda: _succeeded(pool), lambda n: n == len(accepted), timeout=20)


@pytest.fixture
async def slow_server() -> AsyncIterator[dict[str, Any]]:
    """A third-party API that takes its time: long enough to kill a worker mid-call."""
    state: dict[str, Any] = {"keys": []}

    async def slow(request: web.Request) -> web.Response:
        state["keys"].append(request.headers.get("Idempotency-Key"))
        await asyncio.sleep(1.5)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/slow", slow)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    state["url"] = f"http://127.0.0.1:{port}/slow"
    yield state
    await server.close()


async def test_worker_killed_mid_run_loses_nothing(
    acme: Api, pool: db.Pool, slow_server: dict[str, Any], tmp_path: Path
) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "slow",
                "action": "http.request",
                "input": {"url": slow_server["url"], "json": {"e": "{{ event.email }}"}},
            },
            CREATE_CONTACT_WORKFLOW["steps"][0],
        ],
    }
    await enable(acme, "user_12345", await create_workflow(acme, workflow))
    accepted = [
        await send(acme, {**CONTACT_SAMPLE, "email": f"k{i}@example.com"}) for i in range(6)
    ]

    settings = acme.http.app[RESOURCES].settings
    env = linkport_env(
        LINKPORT_DATABASE_URL=settings.database_url,
        LINKPORT_REDIS_URL=settings.redis_url,
        LINKPORT_BASE_URL=settings.base_url,
        LINKPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        LINKPORT_QUEUE_NAME=TEST_QUEUE,
        LINKPORT_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
        LINKPORT_EXECUTION_LEASE="2",
        LINKPORT_SWEEP_GRACE="0.2",
        LINKPORT_RETRY_BASE_DELAY="0.05",
        LINKPORT_LOG_LEVEL="WARNING",
    )
    first = start("worker", env=env, log=tmp_path / "worker-1.log")
    try:

        async def calls_in_flight() -> int:
            return len(slow_server["keys"])

        await eventually(calls_in_flight, lambda n: n > 0, timeout=30)
        assert await _running(pool) > 0
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert await _succeeded(pool) < len(accepted)  # the kill really interrupted work

    second = start("worker", env=env, log=tmp_path / "worker-2.log")
    try:
        await eventually(lambda: _succeeded(pool), lambda n: n == len(accepted), timeout=60)
    finally:
        assert stop(second) == 0, (tmp_path / "worker-2.log").read_text()[-2000:]

    assert await pool.fetchval("SELECT count(*) FROM events") == len(accepted)
    assert await pool.fetchval("SELECT count(*) FROM executions") == len(accepted)
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == len(accepted)
    # At least once: an interrupted call may be repeated, always with the same Idempotency-Key.
    execution_ids = {str(r["id"]) for r in await pool.fetch("SELECT id FROM executions")}
    assert {key.split(":")[0] for key in slow_server["keys"]} == execution_ids
    assert {key.split(":")[1] for key in slow_server["keys"]} == {"slow"}


async def _running(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM executions WHERE status = 'running'")
    return count


async def test_an_interrupted_execution_is_handed_back_at_once(
    acme: Api, pool: db.Pool, slow_server: dict[str, Any]
) -> None:
    """What SIGTERM does to a running job: the row is released, not left leased."""
    import uuid

    await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [{"id": "slow", "action": "http.request", "input": {"url": slow_server["url"]}}],
    }
    await enable(acme, "user_12345", await create_workflow(acme, workflow))
    event_id = await send(acme)
    settings = worker_settings(acme, outbound_allowed_networks="127.0.0.0/8")
    base = acme.http.app[RESOURCES]
    resources = type(base)(
        **{**vars(base), "settings": settings, "http": outbound_client(settings)}
    )
    await execution_store.fan_out_events(resources.pool, event_ids=[uuid.UUID(event_id)])
    execution_id = await pool.fetchval("SELECT id FROM executions")
    job = asyncio.create_task(run_execution(runner(resources), execution_id=execution_id))

    async def calls() -> int:
        return len(slow_server["keys"])

    await eventually(calls, lambda n: n == 1)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    row = await pool.fetchrow("SELECT status, lease_until, attempts FROM executions")
    assert row is not None
    assert (row["status"], row["lease_until"], row["attempts"]) == ("pending", None, 1)
    await resources.http.close()


async def test_shutdown_survives_a_job_cancelled_while_it_finishes(acme: Api, redis: Redis) -> None:
    """SIGTERM cancels running jobs; one caught inside arq's shielded result write used to make
    ``close()`` raise ``CancelledError``, so the worker exited 1 with a traceback."""
    from shared.infra import redis_keys
    from workers.worker import create_worker, worker_name

    worker = create_worker(
        worker_settings(acme), burst=True, max_burst_jobs=0, handle_signals=False
    )
    await worker.main()  # startup, an empty queue, return: the pool and resources are open
    assert await redis.exists(redis_keys.worker_heartbeat(worker_name()))

    async def finishing_job() -> None:
        await asyncio.shield(asyncio.sleep(0.05))  # as arq's run_job awaits finish_job

    job = asyncio.create_task(finishing_job())
    await asyncio.sleep(0)
    job.cancel()
    worker.tasks["a-job"] = job

    await worker.close()  # must not raise

    assert job.cancelled()
    assert not await redis.exists(redis_keys.worker_heartbeat(worker_name()))  # shutdown ran
