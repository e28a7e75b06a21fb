"""Nothing lost: Postgres is the guarantee, arq the fast path. Work survives a Redis flush
(the sweeper of a running worker finds it again) and a job cancelled mid-step. (A worker
process killed with SIGKILL: tests/e2e/test_worker_kill.py.)"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from services.gateway.appkeys import RESOURCES
from shared.executions import store as execution_store
from shared.executions.service import run_execution
from shared.infra import db
from shared.resources import outbound_client
from tests.fakes import StartFake
from tests.fakes.slow_app import SlowApp
from tests.helpers import TEST_QUEUE, Api, eventually
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    arranged,
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
async def slow_server(start_fake: StartFake) -> SlowApp:
    """A third-party API that takes its time: long enough to cancel a job mid-call."""
    return await start_fake(SlowApp(delay=1.5))


async def test_an_interrupted_execution_is_handed_back_at_once(
    acme: Api, pool: db.Pool, slow_server: SlowApp
) -> None:
    """What SIGTERM does to a running job: the row is released, not left leased."""
    import uuid

    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [{"id": "slow", "action": "http.request", "input": {"url": slow_server.endpoint}}],
    }
    await arranged(acme, workflow)
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
        return len(slow_server.idempotency_keys)

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
