"""Linkport as separate processes: the CLI, ``linkport serve``, the worker, ``linkport dev``.

These tests use the commands exactly as the README shows them, over real HTTP.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import orjson
import pytest
from redis.asyncio import Redis

from shared.infra import redis_keys, tokens
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, eventually
from tests.processes import free_port, linkport_env, run, start, stop

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).parent / "seeds"
SEED_ORIGIN = "https://api.usecobalt.com"
SEED_CLIENT_ID = "ci_live_198908HJDKJSH98789OHKJL"
SEED_CLIENT_SECRET = "cs_live_9827hofdsklOYYHJLJh"
SEED_ACCESS_TOKEN = "493JKLHIU98789hLKH9HHJH"


def curl_examples(document: str) -> list[str]:
    """Every complete ``curl`` command in a seed document, as written there."""
    lines = document.splitlines()
    commands = []
    for i, line in enumerate(lines):
        if not line.startswith("curl "):
            continue
        block = []
        for candidate in lines[i:]:
            block.append(candidate)
            text = "\n".join(block)
            if not candidate.endswith("\\") and text.count("'") % 2 == 0:
                break
        commands.append("\n".join(block))
    return commands


def _create_client(env: dict[str, str], environment: str) -> dict[str, str]:
    result = run("clients", "create", "--name", "Seed Health", "--env", environment, env=env)
    assert result.returncode == 0, result.stderr
    credentials: dict[str, str] = json.loads(result.stdout)
    return credentials


def _play(command: str, substitutions: dict[str, str]) -> tuple[int, dict[str, object]]:
    for old, new in substitutions.items():
        command = command.replace(old, new)
    result = subprocess.run(
        ["bash", "-c", command + " -s -w '\\n%{http_code}'"],  # output options only
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


async def test_seed_curl_requests_work_byte_for_byte(
    gateway: tuple[str, dict[str, str], Path], database_url: str
) -> None:
    base_url, env, log = gateway
    live = _create_client(env, "live")
    examples = curl_examples((SEEDS / "emr-link-token-create.txt").read_text())
    concrete = [c for c in examples if SEED_CLIENT_ID in c]
    assert len(concrete) == 3  # existing org, new org, update mode

    # Update mode needs a connection whose access token is the seed's.
    conn = await asyncpg.connect(database_url)
    client_uuid = await conn.fetchval(
        "SELECT client_id FROM environments WHERE public_client_id = $1", live["client_id"]
    )
    await conn.execute(
        """INSERT INTO linked_accounts (client_id, environment, linked_account_id)
           VALUES ($1, 'live', 'user_12345')""",
        client_uuid,
    )
    await conn.execute(
        """INSERT INTO connections (id, client_id, environment, linked_account_id, app, status,
                                    access_token_hash)
           VALUES (gen_random_uuid(), $1, 'live', 'user_12345', 'sandbox', 'active', $2)""",
        client_uuid,
        tokens.digest(SEED_ACCESS_TOKEN),
    )
    await conn.close()

    substitutions = {
        SEED_ORIGIN: base_url,
        SEED_CLIENT_ID: live["client_id"],
        SEED_CLIENT_SECRET: live["client_secret"],
    }
    issued = []
    for command in concrete:
        status, body = _play(command, substitutions)
        assert status == 200, (command, body)
        assert set(body) == {"success", "token"}
        assert body["success"] is True
        assert str(body["token"]).startswith("lt_")
        issued.append(str(body["token"]))

    wearables = curl_examples((SEEDS / "wearables-link-token.txt").read_text())
    assert wearables
    status, body = _play(wearables[0], {"{{BASE_URL}}": base_url, "<API_KEY>": live["api_key"]})
    assert status == 200
    assert set(body) == {"link_token"}
    issued.append(str(body["link_token"]))

    # The JSON log has a line per request with its id, and none of the secrets or tokens.
    async def request_lines() -> list[dict[str, object]]:
        lines = [
            orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")
        ]
        return [line for line in lines if line.get("event") == "request"]

    # Log lines go out in blocks (every 0.2 s): wait for the last request's line too.
    lines = await eventually(
        request_lines, lambda found: "/v2/link/token" in {line["path"] for line in found}
    )
    assert all(line["request_id"] for line in lines)
    assert {line["path"] for line in lines} >= {"/link/token/create", "/v2/link/token"}
    text = log.read_text()
    for secret in (live["client_secret"], live["api_key"], SEED_ACCESS_TOKEN, *issued):
        assert secret not in text


async def test_cli_creates_clients_with_hashed_secrets(
    gateway: tuple[str, dict[str, str], Path], database_url: str
) -> None:
    _, env, _ = gateway
    credentials = _create_client(env, "test")
    assert credentials["client_id"].startswith("ci_test_")
    assert credentials["client_secret"].startswith("cs_test_")
    assert credentials["api_key"].startswith("sk_test_")
    conn = await asyncpg.connect(database_url)
    dump = await conn.fetchval("SELECT string_agg(row_to_json(k)::text, ' ') FROM api_keys k")
    await conn.close()
    assert credentials["client_secret"] not in dump
    assert credentials["api_key"] not in dump

    more = run(
        "clients", "credentials", "--client-id", credentials["client_id"], "--env", "live", env=env
    )
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["client_id"].startswith("ci_live_")
    unknown = run("clients", "credentials", "--client-id", "ci_test_nope", "--env", "live", env=env)
    assert unknown.returncode != 0
    assert "no client" in unknown.stderr


def test_gateway_and_worker_refuse_to_start_without_an_encryption_key(
    database_url: str, redis_url: str
) -> None:
    env = linkport_env(LINKPORT_DATABASE_URL=database_url, LINKPORT_REDIS_URL=redis_url)
    for command in ("serve", "worker"):
        result = run(command, env=env, timeout=30)
        assert result.returncode != 0
        assert "LINKPORT_ENCRYPTION_KEY is not set" in result.stderr
    short = run("serve", env={**env, "LINKPORT_ENCRYPTION_KEY": "c2hvcnQ="}, timeout=30)
    assert short.returncode != 0
    assert "must be 32 bytes" in short.stderr


async def test_migrate_command_is_idempotent(database_url: str) -> None:
    result = run("migrate", env=linkport_env(LINKPORT_DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"applied": []}


async def test_worker_beats_and_stops_cleanly_on_sigterm(
    database_url: str, redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    env = linkport_env(
        LINKPORT_DATABASE_URL=database_url,
        LINKPORT_REDIS_URL=redis_url,
        LINKPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        LINKPORT_QUEUE_NAME=TEST_QUEUE,
    )
    log = tmp_path / "worker.log"
    process = start("worker", env=env, log=log)

    async def heartbeats() -> list[bytes]:
        return [k async for k in redis.scan_iter(redis_keys.WORKER_HEARTBEAT_PATTERN)]

    try:
        beats = await eventually(heartbeats, lambda keys: len(keys) == 1, timeout=30)
        assert str(process.pid).encode() in beats[0]
        assert 0 < await redis.ttl(beats[0]) <= 30
    finally:
        code = stop(process)
    assert code == 0, log.read_text()[-2000:]
    assert await heartbeats() == []


def test_dev_runs_everything_with_embedded_postgres_and_redis(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "linkport-data"
    log = tmp_path / "dev.log"
    process = start(
        "dev", "--port", str(port), "--data-dir", str(data_dir), env=linkport_env(), log=log
    )
    try:
        deadline = time.monotonic() + 120
        while "Linkport is running" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        credentials = json.loads((data_dir / "dev-client.json").read_text())
        assert credentials["client_id"] in log.read_text()  # printed for the newcomer
        examples = curl_examples((SEEDS / "emr-link-token-create.txt").read_text())
        status, body = _play(
            next(c for c in examples if SEED_CLIENT_ID in c),
            {
                SEED_ORIGIN: f"http://127.0.0.1:{port}",
                SEED_CLIENT_ID: credentials["client_id"],
                SEED_CLIENT_SECRET: credentials["client_secret"],
            },
        )
        assert status == 200
        assert str(body["token"]).startswith("lt_")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    assert (
        "postgresql"
        not in subprocess.run(
            ["pgrep", "-af", str(data_dir)], capture_output=True, text=True, check=False
        ).stdout
    )
