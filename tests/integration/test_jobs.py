"""Enqueueing arq jobs in one round trip, and how fan-out jobs share out executions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from redis.asyncio import ConnectionPool, Redis

from services.gateway.appkeys import RESOURCES
from shared.executions import fan_out
from shared.infra import db
from shared.infra import queue as jobs
from shared.infra.queue import JobSpec, job_deserializer, job_serializer
from shared.resources import outbound_client
from tests.fakes import StartFake
from tests.fakes.slow_app import SlowApp
from tests.helpers import TEST_QUEUE, Api, eventually
from tests.processes import free_port
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    arranged,
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
    run_queued,
    send,
    worker_settings,
)
from workers.worker import runner


def _arq(api: Api) -> ArqRedis:
    return api.http.app[RESOURCES].redis


async def _queued(redis: Redis) -> list[str]:
    return [m.decode() for m in await redis.zrange(TEST_QUEUE, 0, -1)]


async def test_an_enqueued_job_is_arqs_own_and_is_enqueued_once(acme: Api, redis: Redis) -> None:
    arq = _arq(acme)
    spec = JobSpec(jobs.RUN_EXECUTION, "exec:test:0", "an-id")
    assert await jobs.enqueue(arq, spec) is True
    assert await jobs.enqueue(arq, spec) is False  # the same id: the same job

    job = Job("exec:test:0", arq, _queue_name=TEST_QUEUE, _deserializer=job_deserializer)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None
    assert info.function == jobs.RUN_EXECUTION
    assert list(info.args) == ["an-id"]
    assert info.kwargs == {}
    assert await _queued(redis) == ["exec:test:0"]


async def test_many_jobs_in_one_pipeline_skip_those_that_exist(acme: Api, redis: Redis) -> None:
    arq = _arq(acme)
    await jobs.enqueue(arq, JobSpec(jobs.RUN_EXECUTION, "exec:b:0", "b"))
    specs = [JobSpec(jobs.RUN_EXECUTION, f"exec:{name}:0", name) for name in ("a", "b", "c")]
    assert await jobs.enqueue_many(arq, specs) == 2
    assert sorted(await _queued(redis)) == ["exec:a:0", "exec:b:0", "exec:c:0"]
    assert await jobs.enqueue_many(arq, []) == 0


async def test_a_deferred_job_is_due_at_its_time(acme: Api, redis: Redis) -> None:
    at = datetime.now(UTC) + timedelta(minutes=5)
    await jobs.enqueue(_arq(acme), jobs.execution_job(uuid.uuid4(), 2, defer_until=at))
    ((_, score),) = await redis.zrange(TEST_QUEUE, 0, -1, withscores=True)
    assert score == int(at.timestamp() * 1000)


async def test_enqueue_without_redis_reports_false_and_raises_nothing() -> None:
    down = ArqRedis(
        connection_pool=ConnectionPool.from_url(f"redis://127.0.0.1:{free_port()}/0"),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
    )
    try:
        spec = JobSpec(jobs.RUN_EXECUTION, "exec:x:0", "x")
        assert await jobs.enqueue(down, spec) is False
        assert await jobs.enqueue_many(down, [spec]) == 0
    finally:
        await down.aclose(close_connection_pool=True)


async def test_batch_ingest_enqueues_a_fan_out_job_per_ten_events(acme: Api, redis: Redis) -> None:
    await arranged(acme)
    batch = [
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": CONTACT_SAMPLE}
        for _ in range(25)
    ]
    reply = await acme.call("POST", "/v1/events/batch", {"events": batch})
    assert reply.status == 202, reply.body
    event_ids = [e["event_id"] for e in reply.body["data"]]
    arq = _arq(acme)
    lots = []
    for job_id in await _queued(redis):
        info = await Job(job_id, arq, _deserializer=job_deserializer).info()
        assert info is not None
        assert info.function == jobs.FAN_OUT
        lots.append(info.args[0])
    assert sorted(lots) == sorted([event_ids[0:10], event_ids[10:20], event_ids[20:25]])


async def test_a_batch_runs_without_waiting_for_the_sweeper(acme: Api, pool: db.Pool) -> None:
    await arranged(acme)
    batch = [
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": CONTACT_SAMPLE}
        for _ in range(30)
    ]
    reply = await acme.call("POST", "/v1/events/batch", {"events": batch})
    assert reply.status == 202
    # A burst worker runs no sweeper: the batch's three fan-out jobs run all thirty.
    assert await run_queued(worker_settings(acme)) == (3, 0, 0)
    succeeded = await pool.fetchval("SELECT count(*) FROM executions WHERE status = 'succeeded'")
    assert succeeded == 30


async def test_a_fan_out_job_runs_a_few_executions_itself(acme: Api, redis: Redis) -> None:
    await arranged(acme)
    event_id = await send(acme)
    await redis.delete(TEST_QUEUE)  # the gateway's fan-out job: this test plays it
    resources = acme.http.app[RESOURCES]
    assert await fan_out.fan_out_and_run(runner(resources), event_ids=[uuid.UUID(event_id)]) == 1
    event = await acme.call("GET", f"/v1/events/{event_id}")
    assert [e["status"] for e in event.body["executions"]] == ["succeeded"]
    assert await _queued(redis) == []  # no job of its own


async def test_a_fan_out_job_shares_many_executions_out(
    acme: Api, pool: db.Pool, redis: Redis
) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    many = fan_out.INLINE_EXECUTIONS + 1
    workflow_ids = [await create_workflow(acme) for _ in range(many)]
    await enable(acme, "user_12345", *workflow_ids)
    event_id = await send(acme)
    await redis.delete(TEST_QUEUE)
    resources = acme.http.app[RESOURCES]
    assert await fan_out.fan_out_and_run(runner(resources), event_ids=[uuid.UUID(event_id)]) == many
    executions = await pool.fetch("SELECT id, status FROM executions")
    assert {r["status"] for r in executions} == {"pending"}  # none ran here
    assert sorted(await _queued(redis)) == sorted(f"exec:{r['id']}:0" for r in executions)


@pytest.fixture
async def slow_app(start_fake: StartFake) -> SlowApp:
    """A third-party API that never answers within the test."""
    return await start_fake(SlowApp(delay=30))


async def test_an_interrupted_fan_out_job_hands_its_executions_to_the_queue(
    acme: Api, pool: db.Pool, redis: Redis, slow_app: SlowApp
) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    slow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [{"id": "slow", "action": "http.request", "input": {"url": slow_app.endpoint}}],
    }
    await enable(
        acme, "user_12345", await create_workflow(acme, slow), await create_workflow(acme, slow)
    )
    event_id = await send(acme)
    await redis.delete(TEST_QUEUE)
    base = acme.http.app[RESOURCES]
    settings = worker_settings(acme, outbound_allowed_networks="127.0.0.0/8")
    resources = type(base)(
        **{**vars(base), "settings": settings, "http": outbound_client(settings)}
    )
    job = asyncio.create_task(
        fan_out.fan_out_and_run(runner(resources), event_ids=[uuid.UUID(event_id)])
    )
    await eventually(lambda: _calls(slow_app), lambda n: n == 1)
    job.cancel()  # what SIGTERM does to a running job
    with pytest.raises(asyncio.CancelledError):
        await job
    executions = await pool.fetch("SELECT id, status, lease_until FROM executions")
    assert [(r["status"], r["lease_until"]) for r in executions] == [("pending", None)] * 2
    assert sorted(await _queued(redis)) == sorted(f"exec:{r['id']}:0" for r in executions)
    await resources.http.close()


async def _calls(slow_app: SlowApp) -> int:
    return len(slow_app.idempotency_keys)


async def test_thousands_of_jobs_are_enqueued_a_thousand_per_call(acme: Api, redis: Redis) -> None:
    specs = [JobSpec(jobs.RUN_EXECUTION, f"exec:{n}:0", str(n)) for n in range(2500)]
    assert await jobs.enqueue_many(_arq(acme), specs) == 2500
    assert await redis.zcard(TEST_QUEUE) == 2500
    assert await jobs.enqueue_many(_arq(acme), specs) == 0  # all there already
