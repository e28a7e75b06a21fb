"""Observability with real processes: one event followed through the JSON logs of a gateway
and a worker, from the request to the outbound call; metrics added up across gateway
processes sharing a port (``PROMETHEUS_MULTIPROC_DIR``); a worker's own metrics port."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.gateway.appkeys import RESOURCES
from shared.infra import db
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api, eventually
from tests.processes import free_port, linkport_env, start, stop, wait_ready
from tests.workflow_fixtures import CONTACT_SAMPLE, arranged

pytestmark = pytest.mark.e2e


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every JSON line of a process's log."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _env(api: Api, **values: str) -> dict[str, str]:
    settings = api.http.app[RESOURCES].settings
    return linkport_env(
        **{
            "LINKPORT_DATABASE_URL": settings.database_url,
            "LINKPORT_REDIS_URL": settings.redis_url,
            "LINKPORT_BASE_URL": settings.base_url,  # the sandbox app is served there
            "LINKPORT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "LINKPORT_QUEUE_NAME": TEST_QUEUE,
            "LINKPORT_LOG_LEVEL": "INFO",
            **values,
        }
    )


async def test_one_event_followed_through_the_logs(
    acme: Api,
    pool: db.Pool,
    gateway: tuple[str, dict[str, str], Path],
    tmp_path: Path,
) -> None:
    """Request id → event id (gateway) → fan-out → execution → outbound call (worker): each
    line names what the previous one did, so ``grep`` follows the event end to end."""
    await arranged(acme)
    base_url, _, gateway_log = gateway
    metrics_port = free_port()
    worker_log = tmp_path / "worker.log"
    worker = start(
        "worker",
        env=_env(acme, LINKPORT_WORKER_METRICS_PORT=str(metrics_port)),
        log=worker_log,
    )
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{base_url}/v1/events",
                json={"event": "contact.created", "linked_account_id": "user_12345",
                      "payload": {**CONTACT_SAMPLE, "email": "logs@example.com"}},
                headers={"X-API-Key": acme.credentials.api_key, "X-Request-ID": "follow-me-1"},
            ) as reply:  # fmt: skip
                assert reply.status == 202
                event_id = (await reply.json())["event_id"]

            async def status() -> str | None:
                found: str | None = await pool.fetchval(
                    "SELECT status FROM executions WHERE event_id = $1", uuid.UUID(event_id)
                )
                return found

            await eventually(status, lambda s: s == "succeeded", timeout=30)

            # The worker's metrics, on its own port: the execution is counted there.
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as scraped:
                assert scraped.status == 200
                families = {f.name: f for f in text_string_to_metric_families(await scraped.text())}
            executions = {
                s.labels["status"]: s.value
                for s in families["linkport_executions"].samples
                if s.name == "linkport_executions_total"
            }
            assert executions == {"succeeded": 1.0}
    finally:
        assert stop(worker) == 0, worker_log.read_text()[-2000:]

    # Gateway: the request's access line names the event it accepted.
    (access,) = [
        line for line in json_lines(gateway_log) if line.get("request_id") == "follow-me-1"
    ]
    assert (access["event"], access["method"], access["path"]) == ("request", "POST", "/v1/events")
    assert (access["status"], access["event_id"]) == (202, event_id)
    # ...and only that request's: the connection's next request does not inherit it.
    others = [line for line in json_lines(gateway_log) if line.get("path") == "/readyz"]
    assert others
    assert all("event_id" not in line for line in others)

    # Worker: the fan-out names the event; every line of the execution names both ids.
    lines = json_lines(worker_log)
    (fanned,) = [line for line in lines if event_id in line.get("event_ids", [])]
    assert fanned["event"] == "events_fanned_out"
    assert fanned["executions"] == 1
    of_event = [line for line in lines if line.get("event_id") == event_id]
    execution_id = str(
        await pool.fetchval("SELECT id FROM executions WHERE event_id = $1", uuid.UUID(event_id))
    )
    assert {line["execution_id"] for line in of_event} == {execution_id}
    (call,) = [line for line in of_event if line["event"] == "outbound_call"]
    sandbox = acme.http.app[RESOURCES].settings.base_url.removeprefix("http://")
    assert (call["method"], call["host"], call["status"]) == ("POST", sandbox, 201)
    assert call["duration_ms"] > 0
    (finished,) = [line for line in of_event if line["event"] == "execution_finished"]
    assert finished["status"] == "succeeded"
    # The outbound line names the host only: no path, query or credentials.
    assert "/sandbox" not in json.dumps(call)
    assert "Bearer" not in worker_log.read_text()


async def test_gateway_processes_sharing_a_port_add_up_their_metrics(
    acme: Api, tmp_path: Path
) -> None:
    """Two ``linkport serve --reuse-port`` with one ``PROMETHEUS_MULTIPROC_DIR``: whichever
    process answers a scrape, it counts every request either of them served."""
    port = free_port()
    shared_dir = tmp_path / "prometheus"
    shared_dir.mkdir()
    env = _env(
        acme,
        LINKPORT_PORT=str(port),
        LINKPORT_LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(shared_dir),
    )
    base_url = f"http://127.0.0.1:{port}"
    gateways = [
        start("serve", "--reuse-port", env=env, log=tmp_path / f"gateway-{i}.log") for i in range(2)
    ]
    try:
        for i, process in enumerate(gateways):  # each listens (readiness may be the other's)
            log = tmp_path / f"gateway-{i}.log"

            async def listening(
                process: subprocess.Popen[bytes] = process, log: Path = log
            ) -> bool:
                assert process.poll() is None, log.read_text()
                return "listening on" in log.read_text()

            await eventually(listening, bool, timeout=30)
        wait_ready(base_url)
        requests = 60
        for _ in range(requests):  # a new connection each: the kernel spreads them
            async with aiohttp.ClientSession() as session, session.get(f"{base_url}/healthz") as r:
                assert r.status == 200
        files = {p.name for p in shared_dir.iterdir()}
        assert {f"counter_{p.pid}.db" for p in gateways} <= files, files  # both served

        async def healthz_count() -> list[float]:
            counts = []
            for _ in range(6):
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"{base_url}/metrics") as reply,
                ):
                    for family in text_string_to_metric_families(await reply.text()):
                        for sample in family.samples:
                            if (
                                sample.name == "linkport_http_requests_total"
                                and sample.labels["route"] == "/healthz"
                            ):
                                counts.append(sample.value)
            return counts

        # Every scrape, whichever process answered it, sees all requests (plus the readiness
        # polls, which are /readyz: not counted here).
        counts = await healthz_count()
        assert counts == [float(requests)] * 6
    finally:
        for process in gateways:
            assert stop(process) == 0
