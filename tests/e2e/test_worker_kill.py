"""Nothing lost when a worker process is killed with SIGKILL in the middle of a step: a
second worker finishes everything, repeating an interrupted call with its Idempotency-Key."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from services.gateway.appkeys import RESOURCES
from shared.infra import db
from tests.fakes import StartFake
from tests.fakes.slow_app import SlowApp
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api, eventually
from tests.processes import linkport_env, start, stop
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    arranged,
    send,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
async def slow_server(start_fake: StartFake) -> SlowApp:
    """A third-party API that takes its time: long enough to kill a worker mid-call."""
    return await start_fake(SlowApp(delay=1.5))


async def _succeeded(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM executions WHERE status = 'succeeded'")
    return count


async def _running(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM executions WHERE status = 'running'")
    return count


async def test_worker_killed_mid_run_loses_nothing(
    acme: Api, pool: db.Pool, slow_server: SlowApp, tmp_path: Path
) -> None:
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "slow",
                "action": "http.request",
                "input": {"url": slow_server.endpoint, "json": {"e": "{{ event.email }}"}},
            },
            CREATE_CONTACT_WORKFLOW["steps"][0],
        ],
    }
    await arranged(acme, workflow)
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
            return len(slow_server.idempotency_keys)

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
    assert {key.split(":")[0] for key in slow_server.idempotency_keys} == execution_ids
    assert {key.split(":")[1] for key in slow_server.idempotency_keys} == {"slow"}
