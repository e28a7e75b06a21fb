"""The worker's outage guard, in this process: startup waits for Redis and Postgres, the
heartbeat tells the truth, a job that meets an outage is retried, a claim cut short gives its
slot back, and ``linkport worker-health`` reads the heartbeat file."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from arq import cron
from arq.worker import Retry, func
from asyncpg.exceptions import ConnectionDoesNotExistError
from click.testing import CliRunner
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from linkport.cli import main as cli
from shared.config import Settings
from shared.infra import redis_keys
from tests.fakes.faults import TcpProxy
from tests.helpers import eventually
from workers.worker import LinkportWorker, create_worker, worker_name


async def _stop(worker: LinkportWorker, task: asyncio.Task[None]) -> None:
    """End the poll loop after its iteration (arq's burst exit), then close the worker."""
    worker.burst = True
    worker.max_burst_jobs = 0
    await asyncio.wait_for(task, timeout=30)
    worker.tasks.clear()
    await worker.close()


async def test_a_worker_waits_out_an_outage_at_startup_and_beats_only_when_it_can_work(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    redis_proxy = TcpProxy.to_url(settings.redis_url)
    postgres_proxy = TcpProxy.to_url(settings.database_url)
    heartbeat = tmp_path / "worker.heartbeat"
    worker = create_worker(
        settings.model_copy(
            update={
                "redis_url": redis_proxy.url(settings.redis_url),
                "database_url": postgres_proxy.url(settings.database_url),
                "worker_heartbeat_file": str(heartbeat),
                "worker_heartbeat_interval": 0.05,
                "worker_backoff_max": 0.2,
                "worker_dependency_timeout": 0.5,
            }
        ),
        handle_signals=False,
    )
    assert isinstance(worker, LinkportWorker)
    guard = worker.guard
    key = redis_keys.worker_heartbeat(worker_name())
    task = asyncio.create_task(worker.async_run())  # neither Redis nor Postgres answers yet
    try:

        async def state() -> tuple[bool, bool, bool]:
            assert not task.done(), task  # before the fix: ConnectionError, the process exits
            return guard.redis.down, guard.postgres.down, heartbeat.exists()

        assert await eventually(state, lambda s: s[0], timeout=10) == (True, False, False)
        await redis_proxy.start()
        assert await eventually(state, lambda s: s[1], timeout=10) == (False, True, False)
        await postgres_proxy.start()
        await eventually(state, lambda s: s == (False, False, True), timeout=10)
        beat = orjson.loads(heartbeat.read_bytes())
        assert (beat["postgres"], beat["redis"], beat["polling"]) == (True, True, True)
        assert orjson.loads(await redis.get(key) or b"{}")["postgres"] is True

        # Postgres goes: the key says so but is not kept alive; the file is not refreshed.
        await postgres_proxy.cut()

        async def key_content() -> dict[str, Any]:
            value: dict[str, Any] = orjson.loads(await redis.get(key) or b"{}")
            return value

        await eventually(key_content, lambda beat: beat.get("postgres") is False, timeout=10)
        assert guard.postgres.down
        assert 0 < await redis.ttl(key) <= settings.worker_heartbeat_ttl
        stale = orjson.loads(heartbeat.read_bytes())["unix"]
        await eventually(key_content, lambda beat: beat["unix"] > stale + 0.2, timeout=10)
        assert orjson.loads(heartbeat.read_bytes())["unix"] == stale

        await postgres_proxy.restore()
        await eventually(key_content, lambda beat: beat.get("postgres") is True, timeout=10)
        await eventually(state, lambda s: s == (False, False, True), timeout=10)
        assert orjson.loads(heartbeat.read_bytes())["unix"] > stale
        assert not task.done()
    finally:
        await _stop(worker, task)
        await redis_proxy.close()
        await postgres_proxy.close()
    assert not heartbeat.exists()  # a stopped worker is not healthy
    assert not await redis.exists(key)


async def test_a_job_that_meets_an_outage_is_retried_and_no_job_starts_until_it_ends(
    settings: Settings,
) -> None:
    async def needs_postgres(ctx: dict[str, Any]) -> None:
        raise ConnectionDoesNotExistError("connection was closed in the middle of operation")

    async def needs_redis(ctx: dict[str, Any]) -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    worker = create_worker(
        settings,
        functions=[func(needs_postgres, name="pg"), func(needs_redis, name="redis")],
        cron_jobs=[cron(needs_postgres, name="cron:pg", second=0)],
        handle_signals=False,
    )
    assert isinstance(worker, LinkportWorker)
    with pytest.raises(Retry):  # arq queues it again (any other exception would be final)
        await worker.functions["pg"].coroutine({})
    assert worker.guard.postgres.down
    assert not worker.guard.redis.down
    assert await worker.functions["cron:pg"].coroutine({}) is None  # the next run will do
    with pytest.raises(Retry):
        await worker.functions["redis"].coroutine({})
    assert worker.guard.redis.down
    # While Postgres is down no job is claimed (this worker has no Redis pool at all: any
    # attempt to claim would fail).
    await worker.start_jobs([b"a-job"])
    assert (worker.job_counter, worker.tasks) == (0, {})


class _CutPipeline:
    async def __aenter__(self) -> _CutPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def watch(self, *keys: str) -> None:
        raise RedisConnectionError("Connection closed by server.")


class _CutPool:
    def pipeline(self, transaction: bool = True) -> _CutPipeline:
        return _CutPipeline()


async def test_a_claim_that_redis_cuts_short_gives_its_job_slot_back(settings: Settings) -> None:
    worker = create_worker(settings, handle_signals=False)
    worker._pool = _CutPool()  # type: ignore[assignment]
    for _ in range(3):
        with pytest.raises(RedisConnectionError):
            await worker.start_jobs([b"job-1", b"job-2"])
    # arq 0.28 kept the slot: three outages, three slots gone for good.
    assert worker.job_counter == 0
    assert worker.sem._value == worker.max_jobs + 1


def _health(*args: str, env: dict[str, str] | None = None) -> int:
    result = CliRunner().invoke(cli, ["worker-health", *args], env=env)
    return result.exit_code


def _beat(path: Path, *, age: float = 0.0, **fields: Any) -> None:
    beat = {"unix": time.time() - age, "postgres": True, "redis": True, "pid": 1, **fields}
    path.write_text(json.dumps(beat))


def test_worker_health_reads_the_heartbeat_file(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    assert _health("--file", str(path)) == 1  # no heartbeat yet
    _beat(path)
    assert _health("--file", str(path)) == 0
    assert _health(env={"LINKPORT_WORKER_HEARTBEAT_FILE": str(path)}) == 0
    _beat(path, age=31)
    assert _health("--file", str(path)) == 1  # older than worker_heartbeat_ttl (30 s)
    assert _health("--file", str(path), "--max-age", "60") == 0
    assert _health(env={"LINKPORT_WORKER_HEARTBEAT_FILE": str(path)}) == 1
    _beat(path, postgres=False)
    assert _health("--file", str(path)) == 1
    path.write_text("{not json")
    assert _health("--file", str(path)) == 1
