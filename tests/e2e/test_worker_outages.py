"""Workers ride out Redis and Postgres outages (issue 9, defect 1), as real processes.

``linkport serve`` and ``linkport worker`` run against a private ``redis-server`` and this
run's database on the shared PostgreSQL. Events arrive at a steady rate while a fault is
injected, held until the worker has noticed it and reports itself unhealthy, then lifted:

- ``redis-restart``: the private Redis is killed (SIGKILL, by pid) and started again on the
  same port, empty: every queued job is gone and only Postgres remembers the work;
- ``redis-cut``: the worker reaches Redis through a proxy that is cut (Redis keeps its data);
- ``postgres-cut``: the worker reaches Postgres through a proxy that is cut (the gateway does
  not, so it goes on accepting events).

Each asserts that the worker process lives on, says it is unhealthy during the outage and
healthy after, executes every accepted event, calls the app no more often than at-least-once
allows (a repeat only with a new attempt, always with the same Idempotency-Key), and logs one
warning when the outage starts and one line when it ends. Figures: run with ``-s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from linkport.processes import LINKPORT
from shared.infra import db
from tests.fakes.faults import TcpProxy
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api, eventually
from tests.processes import free_port, linkport_env, start, start_redis_server, stop, wait_ready
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
)

pytestmark = pytest.mark.e2e

RATE = 20.0  # events per second, steady
EVENTS = 200  # ten seconds of them
FAULT_AFTER = 50  # accepted events before the fault
MIN_OUTAGE = 2.0  # seconds an outage lasts at least (and until the worker says it is unhealthy)
HEALTH_MAX_AGE = 1.5  # the probe's limit; the worker beats every 0.25 s here
# Retry, lease and sweeper timings shortened so that a test takes seconds; set
# LINKPORT_TEST_PRODUCTION_TIMINGS=1 to measure with the defaults (a run takes a minute more).
QUICK_TIMINGS = {
    "LINKPORT_EXECUTION_LEASE": "3",
    "LINKPORT_SWEEP_GRACE": "1",
    "LINKPORT_RETRY_BASE_DELAY": "0.05",
    "LINKPORT_RETRY_MAX_DELAY": "0.5",
}
TIMINGS = {} if os.environ.get("LINKPORT_TEST_PRODUCTION_TIMINGS") == "1" else QUICK_TIMINGS


@dataclass
class FakeApp:
    """A third-party API that records every call's Idempotency-Key."""

    url: str = ""
    keys: list[str] = field(default_factory=list)


@pytest.fixture
async def fake_app() -> AsyncIterator[FakeApp]:
    app_state = FakeApp()

    async def call(request: web.Request) -> web.Response:
        app_state.keys.append(request.headers.get("Idempotency-Key", ""))
        await asyncio.sleep(0.2)  # some work: calls are in flight when a fault comes
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/call", call)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    app_state.url = f"http://127.0.0.1:{port}/call"
    yield app_state
    await server.close()


@dataclass
class Sent:
    """One event sent to the gateway: when, and what came back."""

    at: float
    status: int | None
    event_id: str | None


async def steady_load(base_url: str, api_key: str, sent: list[Sent]) -> None:
    """``EVENTS`` events at ``RATE`` per second, each sent on time whatever the last one does."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def send(i: int) -> None:
            at = time.time()
            body = {
                "event": "contact.created",
                "linked_account_id": "user_12345",
                "payload": {**CONTACT_SAMPLE, "email": f"o{i}@example.com"},
            }
            try:
                async with session.post(
                    f"{base_url}/v1/events", json=body, headers={"X-API-Key": api_key}
                ) as reply:
                    answer = await reply.json(content_type=None)
                    event_id = answer.get("event_id") if reply.status == 202 else None
                    sent.append(Sent(at, reply.status, event_id))
            except (aiohttp.ClientError, TimeoutError):
                sent.append(Sent(at, None, None))

        sends = []
        for i in range(EVENTS):
            await asyncio.sleep(max(0.0, begin + i / RATE - loop.time()))  # the rate, not a wait
            sends.append(asyncio.create_task(send(i)))
        await asyncio.gather(*sends)


async def worker_health(env: dict[str, str], heartbeat: Path) -> int:
    """``linkport worker-health``'s exit code, as a Kubernetes exec probe would run it."""
    probe = await asyncio.create_subprocess_exec(
        *LINKPORT,
        "worker-health",
        "--file",
        str(heartbeat),
        "--max-age",
        str(HEALTH_MAX_AGE),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return await probe.wait()


def log_lines(log: Path, event: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines for ``event``."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("fault", ["redis-restart", "redis-cut", "postgres-cut"])
async def test_worker_rides_out_an_outage(
    fault: str,
    acme: Api,
    pool: db.Pool,
    database_url: str,
    fake_app: FakeApp,
    tmp_path: Path,
) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "call",
                "action": "http.request",
                "input": {"url": fake_app.url, "json": {"e": "{{ event.email }}"}},
            }
        ],
    }
    await enable(acme, "user_12345", await create_workflow(acme, workflow))
    dependency = "postgres" if fault == "postgres-cut" else "redis"

    async with contextlib.AsyncExitStack() as stack:
        redis_port = free_port()
        redis_dir = tmp_path / "redis"
        redis = [await asyncio.to_thread(start_redis_server, redis_port, redis_dir)]
        stack.callback(lambda: _kill(redis[0]))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        worker_redis_url, worker_database_url = redis_url, database_url
        proxy: TcpProxy | None = None
        if fault == "redis-cut":
            proxy = TcpProxy("127.0.0.1", redis_port)
            worker_redis_url = proxy.url(redis_url)
        elif fault == "postgres-cut":
            proxy = TcpProxy.to_url(database_url)
            worker_database_url = proxy.url(database_url)
        if proxy is not None:
            await proxy.start()
            stack.push_async_callback(proxy.close)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        common = {
            "LINKPORT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "LINKPORT_QUEUE_NAME": TEST_QUEUE,
            "LINKPORT_BASE_URL": base_url,
            "LINKPORT_LOG_LEVEL": "INFO",
        }
        gateway_env = linkport_env(
            **common,
            LINKPORT_DATABASE_URL=database_url,
            LINKPORT_REDIS_URL=redis_url,
            LINKPORT_PORT=str(port),
        )
        gateway_log = tmp_path / "gateway.log"
        gateway = start("serve", env=gateway_env, log=gateway_log)
        stack.callback(lambda: _kill(gateway))
        await asyncio.to_thread(wait_ready, base_url, gateway)

        heartbeat = tmp_path / "worker.heartbeat"
        worker_env = linkport_env(
            **common,
            LINKPORT_DATABASE_URL=worker_database_url,
            LINKPORT_REDIS_URL=worker_redis_url,
            **TIMINGS,
            LINKPORT_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
            LINKPORT_WORKER_HEARTBEAT_INTERVAL="0.25",
            LINKPORT_WORKER_HEARTBEAT_FILE=str(heartbeat),
        )
        worker_log = tmp_path / "worker.log"
        worker = start("worker", env=worker_env, log=worker_log)
        stack.callback(lambda: _kill(worker))

        async def health() -> int:
            return await worker_health(worker_env, heartbeat)

        await eventually(health, lambda code: code == 0, timeout=30)

        sent: list[Sent] = []
        load = asyncio.create_task(steady_load(base_url, acme.credentials.api_key, sent))
        stack.push_async_callback(_cancel, load)

        async def accepted_so_far() -> int:
            return sum(s.status == 202 for s in sent)

        await eventually(accepted_so_far, lambda n: n >= FAULT_AFTER, timeout=30)

        # The fault.
        fault_at = time.time()
        if fault == "redis-restart":
            redis[0].kill()
            await asyncio.to_thread(redis[0].wait, 10)
        else:
            assert proxy is not None
            await proxy.cut()

        await eventually(health, lambda code: code == 1, timeout=30)
        unhealthy_seen_at = time.time()

        async def held() -> bool:
            return time.time() - fault_at >= MIN_OUTAGE and bool(
                log_lines(worker_log, "worker_dependency_unreachable")
            )

        await eventually(held, bool, timeout=30)
        assert worker.poll() is None, worker_log.read_text()[-3000:]

        # The end of it.
        if fault == "redis-restart":
            redis[0] = await asyncio.to_thread(start_redis_server, redis_port, redis_dir)
        else:
            assert proxy is not None
            await proxy.restore()
        restored_at = time.time()

        async def last_beat() -> float:
            with contextlib.suppress(OSError, ValueError):
                return float(json.loads(heartbeat.read_bytes())["unix"])
            return 0.0

        beat_at = await eventually(last_beat, lambda at: at > restored_at, timeout=30)
        await eventually(health, lambda code: code == 0, timeout=30)
        healthy_at = time.time()
        await load

        accepted = {s.event_id: s.at for s in sent if s.status == 202 and s.event_id}

        async def outcomes() -> list[Any]:
            return await pool.fetch(
                """SELECT e.id::text AS event_id, x.id::text AS execution_id, x.status,
                          x.attempts, extract(epoch FROM x.finished_at)::float8 AS finished
                   FROM events e LEFT JOIN executions x ON x.event_id = e.id"""
            )

        def all_done(rows: list[Any]) -> bool:
            done = {r["event_id"] for r in rows if r["status"] == "succeeded"}
            return accepted.keys() <= done and all(r["status"] == "succeeded" for r in rows)

        rows = await eventually(outcomes, all_done, timeout=90)
        assert worker.poll() is None, worker_log.read_text()[-3000:]
        assert await asyncio.to_thread(stop, worker) == 0, worker_log.read_text()[-3000:]

    # Every accepted event ran once: one execution each, all succeeded; nothing lost.
    executions = {r["execution_id"]: r for r in rows}
    assert len(rows) == len(executions) >= len(accepted)
    # At least once: every execution called the app; a repeat only with a new attempt (an
    # outcome lost in the outage), and always with the execution's own Idempotency-Key.
    calls = Counter(fake_app.keys)
    assert {key.split(":")[0] for key in calls} == set(executions)
    assert {key.split(":")[1] for key in calls} == {"call"}
    repeated = {key: n for key, n in calls.items() if n > 1}
    for key in repeated:
        assert executions[key.split(":")[0]]["attempts"] > 1, (key, repeated)

    # One warning when the outage began, one line when it ended: not a line per poll.
    unreachable = log_lines(worker_log, "worker_dependency_unreachable")
    back = log_lines(worker_log, "worker_dependency_back")
    assert [line["dependency"] for line in unreachable] == [dependency], unreachable
    assert [line["dependency"] for line in back] == [dependency], back
    noticed_at = datetime.fromisoformat(unreachable[0]["timestamp"]).timestamp()
    resumed_at = datetime.fromisoformat(back[0]["timestamp"]).timestamp()

    finished = {r["event_id"]: r["finished"] for r in rows}
    before_restore = [e for e, at in accepted.items() if at < restored_at]
    figures = {
        "fault": fault,
        "timings": "quick" if TIMINGS else "production",
        "accepted": len(accepted),
        "refused": sum(s.status != 202 for s in sent),
        "executed": sum(1 for e in accepted if finished.get(e) is not None),
        "lost": sum(1 for e in accepted if finished.get(e) is None),
        "app_calls": sum(calls.values()),
        "repeated_calls": sum(n - 1 for n in repeated.values()),
        "outage_s": round(restored_at - fault_at, 2),
        "warning_after_s": round(noticed_at - fault_at, 2),
        "probe_unhealthy_after_s": round(unhealthy_seen_at - fault_at, 2),
        "worker_resumed_after_s": round(max(0.0, resumed_at - restored_at), 2),
        "heartbeat_again_after_s": round(beat_at - restored_at, 2),
        "probe_healthy_after_s": round(healthy_at - restored_at, 2),
        "backlog_done_after_s": round(max(finished[e] for e in before_restore) - restored_at, 2),
        "worst_event_latency_s": round(max(finished[e] - at for e, at in accepted.items()), 2),
    }
    print(f"\nworker-outage figures: {json.dumps(figures)}")
    assert figures["lost"] == 0


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
