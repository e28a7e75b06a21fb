"""Graceful shutdown and rolling upgrades under steady load, with real processes.

Events arrive at ``RATE`` per second, each sent on time whatever the others do, through one
HTTP connection pool with keep-alive (as a product backend sends them). Each event runs a
workflow whose one step calls an app that takes ``APP_DELAY`` seconds, so executions are in
flight when a process is told to stop.

- ``test_sigterm_a_worker_under_load``: a second worker runs; the first gets SIGTERM. With
  ``LINKPORT_WORKER_JOB_COMPLETION_WAIT=0`` (the chart's default) its running executions are
  cancelled and handed back; with a wait they finish first. Either way it exits 0 in time.
- ``test_rolling_upgrade_under_load``: a new gateway (sharing the port, as pods share a
  Service) and a new worker start; then the old ones get SIGTERM.

Each counts what was sent, accepted (202) and failed, and checks in PostgreSQL that every
accepted event's execution succeeded (lost = accepted - succeeded) and that the app was
called for each at least once, a repeat always with the same Idempotency-Key. Figures
(printed; ``-s`` shows them): counts, the worst time from acceptance to a finished
execution, and the longest stretch without an accepted event.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from services.gateway.appkeys import RESOURCES
from shared.infra import db
from tests.fakes import StartFake
from tests.fakes.slow_app import SlowApp
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api, eventually
from tests.processes import free_port, linkport_env, start, stop, wait_ready
from tests.workflow_fixtures import CONTACT_SAMPLE, CREATE_CONTACT_WORKFLOW, arranged

pytestmark = pytest.mark.e2e

RATE = 50.0  # events a second
SECONDS = 12.0  # of load
APP_DELAY = 0.2  # seconds the app takes per call: ~10 executions in flight at any time
STOP_AFTER = 3.0  # seconds of load before processes are stopped


@pytest.fixture
async def slow_app(start_fake: StartFake) -> SlowApp:
    """The app the workflow calls: each call takes ``APP_DELAY`` seconds."""
    return await start_fake(SlowApp(delay=APP_DELAY))


@dataclass
class Load:
    """What the load generator saw."""

    sent: int = 0
    accepted: list[tuple[float, str]] = field(default_factory=list)  # (when, event id)
    failed: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    resent: int = 0  # requests sent again after the server closed their connection

    def longest_gap(self) -> float:
        """The longest time between two accepted events (the load's own spacing included)."""
        times = sorted(at for at, _ in self.accepted)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


async def steady_load(base_url: str, api_key: str, load: Load) -> None:
    """``RATE`` events a second for ``SECONDS``, over keep-alive connections."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    total = int(RATE * SECONDS)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def send(i: int) -> None:
            body = {
                "event": "contact.created",
                "linked_account_id": "user_12345",
                "payload": {**CONTACT_SAMPLE, "email": f"r{i}@example.com"},
            }
            # As a careful client does: every event carries an Idempotency-Key, and a request
            # whose keep-alive connection the old gateway closed as it sent it is sent again
            # once (it may or may not have arrived; the key makes that one event either way),
            # whether the close shows as a disconnect or as a reset of that connection.
            headers = {"X-API-Key": api_key, "Idempotency-Key": f"rolling-{i}"}
            for attempt in (1, 2):
                try:
                    async with session.post(
                        f"{base_url}/v1/events", json=body, headers=headers
                    ) as reply:
                        answer = await reply.json(content_type=None)
                        if reply.status == 202:
                            load.accepted.append((time.monotonic(), answer["event_id"]))
                        else:
                            load.failed.append((time.monotonic(), f"HTTP {reply.status}: {answer}"))
                    return
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                    # A reset of a kept-alive connection is the same race as a disconnect;
                    # a refused connection (no gateway listening) is a real failure.
                    if attempt == 2 or isinstance(exc, aiohttp.ClientConnectorError):
                        load.failed.append((time.monotonic(), type(exc).__name__))
                        return
                    load.resent += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    load.failed.append((time.monotonic(), type(exc).__name__))
                    return

        sends = []
        for i in range(total):
            await asyncio.sleep(max(0.0, begin + i / RATE - loop.time()))
            load.sent += 1
            sends.append(asyncio.create_task(send(i)))
        await asyncio.gather(*sends)


def _env(api: Api, tmp_path: Path, name: str, **values: str) -> dict[str, str]:
    settings = api.http.app[RESOURCES].settings
    return linkport_env(
        **{
            "LINKPORT_DATABASE_URL": settings.database_url,
            "LINKPORT_REDIS_URL": settings.redis_url,
            "LINKPORT_BASE_URL": settings.base_url,
            "LINKPORT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "LINKPORT_QUEUE_NAME": TEST_QUEUE,
            "LINKPORT_LOG_LEVEL": "WARNING",
            "LINKPORT_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            "LINKPORT_WORKER_HEARTBEAT_FILE": str(tmp_path / f"{name}.heartbeat"),
            **values,
        }
    )


async def _workflow(acme: Api, app: SlowApp) -> None:
    step = {"id": "call", "action": "http.request", "input": {"url": app.endpoint, "json": {"e": "{{ event.email }}"}}}  # fmt: skip
    await arranged(acme, {**CREATE_CONTACT_WORKFLOW, "steps": [step]})


async def _wait_for(load: Load, count: int, timeout: float = 30) -> None:
    async def accepted() -> int:
        return len(load.accepted)

    await eventually(accepted, lambda n: n >= count, timeout=timeout)


async def _started(process: subprocess.Popen[bytes], heartbeat: Path) -> None:
    """Until the worker has written its first heartbeat (it works; before that it has no
    signal handlers yet and SIGTERM ends it at once, as it would a starting pod)."""

    async def beating() -> bool:
        assert process.poll() is None, "the worker exited"
        return heartbeat.exists()

    await eventually(beating, bool, timeout=30)


async def _listening(process: subprocess.Popen[bytes], log: Path) -> None:
    """Until this gateway listens (``/readyz`` on a shared port may be answered by another:
    a pod's own readiness, not the Service's)."""

    async def says_so() -> bool:
        assert process.poll() is None, log.read_text()[-2000:]
        return "listening on" in log.read_text()

    await eventually(says_so, bool, timeout=30)


async def _stop(process: subprocess.Popen[bytes], log: Path, timeout: float = 40) -> float:
    """SIGTERM and wait for a clean exit; seconds it took."""
    begin = time.monotonic()
    code = await asyncio.to_thread(stop, process, timeout=timeout)
    assert code == 0, log.read_text()[-3000:]
    return time.monotonic() - begin


def _kill(*processes: subprocess.Popen[bytes]) -> None:
    """What is still running when a test ends (it failed): SIGKILL, by pid."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def _settle(pool: db.Pool, load: Load, app: SlowApp, label: str, **figures: float) -> None:
    """Every accepted event's execution succeeded (within a deadline); print the figures."""
    ids = [event_id for _, event_id in load.accepted]

    async def succeeded() -> int:
        done: int = await pool.fetchval(
            """SELECT count(*) FROM executions
               WHERE event_id = ANY($1::uuid[]) AND status = 'succeeded'""",
            ids,
        )
        return done

    done = await eventually(succeeded, lambda n: n == len(ids), timeout=90)
    worst = await pool.fetchval(
        """SELECT max(extract(epoch FROM x.finished_at - e.created_at)) FROM executions x
           JOIN events e ON e.id = x.event_id WHERE x.event_id = ANY($1::uuid[])""",
        ids,
    )
    executions = {str(r["id"]) for r in await pool.fetch("SELECT id FROM executions")}
    assert {
        key.split(":")[0] for key in app.idempotency_keys
    } == executions  # every one called, by key
    assert all(key.endswith(":call") for key in app.idempotency_keys)
    repeats = len(app.idempotency_keys) - len(set(app.idempotency_keys))
    print(
        f"\n{label}: sent {load.sent} (resent {load.resent}), accepted {len(load.accepted)}, "
        f"failed {len(load.failed)}, "
        f"completed {done}, lost {len(ids) - done}, calls repeated {repeats}; worst accepted "
        f"-> finished {float(worst):.2f}s, longest gap between accepted events "
        f"{load.longest_gap():.2f}s"
        + "".join(f", {name} {value:.2f}s" for name, value in figures.items())
    )
    assert load.sent == len(load.accepted) + len(load.failed)


@pytest.mark.parametrize("completion_wait", [0, 5])
async def test_sigterm_a_worker_under_load(
    completion_wait: int,
    acme: Api,
    pool: db.Pool,
    gateway: tuple[str, dict[str, str], Path],
    slow_app: SlowApp,
    tmp_path: Path,
) -> None:
    await _workflow(acme, slow_app)
    base_url, _, _ = gateway
    wait = {"LINKPORT_WORKER_JOB_COMPLETION_WAIT": str(completion_wait)}
    old_log, new_log = tmp_path / "worker-old.log", tmp_path / "worker-new.log"
    old = start("worker", env=_env(acme, tmp_path, "old", **wait), log=old_log)
    new = start("worker", env=_env(acme, tmp_path, "new", **wait), log=new_log)
    load = Load()
    try:
        await _started(old, tmp_path / "old.heartbeat")
        await _started(new, tmp_path / "new.heartbeat")
        sending = asyncio.create_task(steady_load(base_url, acme.credentials.api_key, load))
        await _wait_for(load, int(RATE * STOP_AFTER))

        async def running() -> int:
            count: int = await pool.fetchval(
                "SELECT count(*) FROM executions WHERE status = 'running'"
            )
            return count

        await eventually(running, lambda n: n > 0, timeout=10)  # work in flight when it stops
        stopped_in = await _stop(old, old_log)
        assert stopped_in < completion_wait + 10
        await sending
        assert not load.failed, load.failed[:5]
        await _settle(
            pool,
            load,
            slow_app,
            f"SIGTERM worker (completion wait {completion_wait}s)",
            **{"worker stopped in": stopped_in},
        )
        await _stop(new, new_log)
    finally:
        _kill(old, new)


async def test_rolling_upgrade_under_load(
    acme: Api, pool: db.Pool, slow_app: SlowApp, tmp_path: Path
) -> None:
    """Old gateway and worker serve; the new ones start (the gateway on the same port, as a
    Service spreads over pods); once they are ready the old ones get SIGTERM."""
    await _workflow(acme, slow_app)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _env(acme, tmp_path, "gateway", LINKPORT_PORT=str(port))
    logs = {name: tmp_path / f"{name}.log" for name in ("gw-old", "gw-new", "wk-old", "wk-new")}
    processes = {"gw-old": start("serve", "--reuse-port", env=env, log=logs["gw-old"])}
    processes["wk-old"] = start("worker", env=_env(acme, tmp_path, "wk-old"), log=logs["wk-old"])
    load = Load()
    try:
        await asyncio.to_thread(wait_ready, base_url, processes["gw-old"])
        await _started(processes["wk-old"], tmp_path / "wk-old.heartbeat")
        sending = asyncio.create_task(steady_load(base_url, acme.credentials.api_key, load))
        await _wait_for(load, int(RATE * STOP_AFTER))
        # The new release comes up beside the old one...
        processes["gw-new"] = start("serve", "--reuse-port", env=env, log=logs["gw-new"])
        processes["wk-new"] = start(
            "worker", env=_env(acme, tmp_path, "wk-new"), log=logs["wk-new"]
        )
        await _listening(processes["gw-new"], logs["gw-new"])
        await asyncio.to_thread(wait_ready, base_url, processes["gw-new"])
        await _started(processes["wk-new"], tmp_path / "wk-new.heartbeat")
        # ...and the old one is told to stop, gateway and worker at once.
        gateway_stop, worker_stop = await asyncio.gather(
            _stop(processes["gw-old"], logs["gw-old"]), _stop(processes["wk-old"], logs["wk-old"])
        )
        await sending
        assert not load.failed, load.failed[:5]
        await _settle(
            pool,
            load,
            slow_app,
            "rolling upgrade",
            **{"old gateway stopped in": gateway_stop, "old worker stopped in": worker_stop},
        )
        for name in ("gw-new", "wk-new"):
            await _stop(processes[name], logs[name])
    finally:
        _kill(*processes.values())
