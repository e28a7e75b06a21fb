"""``linkport serve`` as a process: clients that hang up, and SIGTERM during uploads (issue 9,
defect 9)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.clients import store as clients
from shared.config import Settings
from shared.infra import db
from tests.processes import free_port, linkport_env, start, stop, wait_ready

pytestmark = pytest.mark.e2e


@dataclass
class Gateway:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("logger_name") == "linkport.access"]

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.startswith("{")]


@pytest.fixture
def serve(settings: Settings, tmp_path: Path) -> Iterator[Gateway]:
    """``linkport serve`` on the test database and Redis db, logging at INFO to a file."""
    port = free_port()
    env = linkport_env(
        LINKPORT_DATABASE_URL=settings.database_url,
        LINKPORT_REDIS_URL=settings.redis_url,
        LINKPORT_PORT=str(port),
        LINKPORT_LOG_LEVEL="INFO",
        LINKPORT_ENCRYPTION_KEY=settings.encryption_key or "",
        LINKPORT_QUEUE_NAME=settings.queue_name,
        LINKPORT_BASE_URL=f"http://127.0.0.1:{port}",
    )
    log = tmp_path / "gateway.log"
    process = start("serve", env=env, log=log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        yield Gateway(port, process, log)
    finally:
        if process.poll() is None:
            assert stop(process) == 0, log.read_text()[-3000:]


async def _api_key(pool: db.Pool) -> str:
    issued = await clients.create_client(pool, name="Uploads", environment="test")
    return issued.api_key


def _upload_head(api_key: str, body: bytes) -> bytes:
    return (
        b"POST /v1/linked-accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {api_key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )


async def _wait(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


async def test_aborted_uploads_are_one_info_line_each_with_499(
    serve: Gateway, pool: db.Pool
) -> None:
    api_key = await _api_key(pool)
    body = json.dumps({"linked_account_id": "x" * 20, "metadata": {"pad": "y" * 500}}).encode()
    aborted = 200
    for _ in range(aborted):
        _, writer = await asyncio.open_connection("127.0.0.1", serve.port)
        writer.write(_upload_head(api_key, body) + body[:100])
        await writer.drain()
        writer.transport.abort()  # the client goes away mid-body

    def all_logged() -> bool:
        return sum(1 for line in serve.access_lines() if line["status"] == 499) >= aborted

    await _wait(all_logged, timeout=20, what=f"{aborted} access lines with status 499")
    lines = serve.lines()
    uploads = [line for line in lines if line.get("path") == "/v1/linked-accounts"]
    assert len(uploads) == aborted  # one line per aborted upload
    assert {line["status"] for line in uploads} == {499}
    assert {line["level"] for line in uploads} == {"info"}
    assert not [line for line in lines if line.get("level") in ("error", "critical")]
    assert "Traceback" not in serve.log.read_text()


async def test_sigterm_finishes_uploads_still_arriving(serve: Gateway, pool: db.Pool) -> None:
    api_key = await _api_key(pool)
    body = json.dumps(
        {"linked_account_id": "late-upload", "metadata": {"pad": "n" * 2000}}
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", serve.port)
    writer.write(_upload_head(api_key, body) + body[:1000])
    await writer.drain()
    # The handler is reading the body; now the gateway is told to stop.
    await _wait(
        lambda: any(line.get("path") == "/readyz" for line in serve.access_lines()),
        timeout=5,
        what="gateway serving",
    )
    sigterm_at = time.monotonic()
    serve.process.send_signal(signal.SIGTERM)

    def refusing() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", serve.port), 0.2):
            return False
        return True

    await _wait(refusing, timeout=5, what="new connections refused after SIGTERM")
    await asyncio.sleep(3)  # the rest of the body arrives 3 s after SIGTERM (the fault)
    writer.write(body[1000:])
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:500]
    assert serve.process.wait(timeout=15) == 0
    took = time.monotonic() - sigterm_at
    row = await pool.fetchrow(
        "SELECT metadata FROM linked_accounts WHERE linked_account_id = 'late-upload'"
    )
    assert row is not None
    print(f"upload completed 3 s after SIGTERM: 201, then exit 0 {took:.2f} s after SIGTERM")
