"""The processes a benchmark run starts: Linkport's gateways and worker (its real CLI, production
settings, INFO logs to files), the raw baselines, and the fake third-party app; plus the
bench's own database and Redis db, created fresh and removed at the end."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from linkport.processes import LINKPORT, free_port, linkport_env, start, stop, wait_ready
from shared.config import Settings
from shared.infra.crypto import generate_key
from shared.infra.migrate import migrate

PYTHON = sys.executable
QUEUE = "linkport:bench"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def rss_mb(process: subprocess.Popen[bytes]) -> float:
    """Resident memory of a running process, in MiB."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {process.pid}")


@dataclass
class Group:
    """Processes serving one port (several with SO_REUSEPORT)."""

    url: str
    processes: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        """SIGTERM all and wait."""
        for process in self.processes:
            stop(process)


@dataclass
class Stack:
    """The bench's database, Redis db and processes; ``close()`` removes them all."""

    out: Path
    admin_url: str = field(
        default_factory=lambda: os.environ.get(
            "LINKPORT_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
    )
    redis_base: str = field(
        default_factory=lambda: os.environ.get("LINKPORT_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
    )
    redis_db: int = 13
    database: str = field(default_factory=lambda: f"linkport_bench_{secrets.token_hex(4)}")
    key: str = field(default_factory=generate_key)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    fake_app_url: str = ""

    @property
    def database_url(self) -> str:
        """The bench database."""
        return _with_database(self.admin_url, self.database)

    @property
    def redis_url(self) -> str:
        """The bench Redis db."""
        return f"{self.redis_base.rstrip('/')}/{self.redis_db}"

    def _overrides(self, base_url: str) -> dict[str, str]:
        """What the bench sets; everything else keeps its production default."""
        return {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "base_url": base_url,
            "encryption_key": self.key,
            "queue_name": QUEUE,
            "outbound_allowed_networks": "127.0.0.0/8",  # the fake app is on loopback
            "log_level": "INFO",
            "log_json": "true",
        }

    def settings(self, base_url: str = "http://127.0.0.1:8080") -> Settings:
        """Linkport's settings for this stack, as the bench's own code uses them."""
        return Settings.model_validate(self._overrides(base_url))

    def linkport_env(self, base_url: str) -> dict[str, str]:
        """The same settings as ``LINKPORT_*`` variables, for Linkport's processes."""
        return linkport_env(
            **{
                f"LINKPORT_{name.upper()}": value
                for name, value in self._overrides(base_url).items()
            }
        )

    def baseline_command(self, port: int, *, reuse_port: bool = False) -> list[str]:
        """The baseline app's command line on ``port``."""
        return [
            PYTHON,
            "-m",
            "bench.baseline",
            "serve",
            "--port",
            str(port),
            "--database-url",
            self.database_url,
            "--redis-url",
            self.redis_url,
            "--queue",
            QUEUE,
            *(["--reuse-port"] if reuse_port else []),
        ]

    def _start(self, command: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        process = start(command, env=env, log=self.out / log)
        self.started.append(process)
        return process

    async def open(self) -> None:
        """Create the database (migrated), empty the Redis db, start the fake app."""
        self.out.mkdir(parents=True, exist_ok=True)
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()
        await migrate(self.database_url)
        await self.flush_redis()
        port = free_port()
        self.fake_app_url = f"http://127.0.0.1:{port}"
        fake = self._start(
            [PYTHON, "-m", "bench.fake_app", "--port", str(port)], os.environ.copy(), "fake-app.log"
        )
        await asyncio.to_thread(wait_ready, self.fake_app_url, fake)

    async def close(self) -> None:
        """Stop every process, drop the database, empty the Redis db."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()
        await self.flush_redis()
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            await admin.close()

    async def flush_redis(self) -> None:
        """Empty the bench's Redis db (tokens, queue): between runs, nothing carries over."""
        redis = Redis.from_url(self.redis_url)
        try:
            await redis.flushdb()
        finally:
            await redis.aclose()

    async def gateways(self, count: int) -> Group:
        """``count`` gateway processes sharing one port."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        reuse = ["--reuse-port"] if count > 1 else []
        processes = [
            self._start(
                [*LINKPORT, "serve", "--port", str(port), *reuse],
                self.linkport_env(url),
                f"gateway-{count}-{i}.log",
            )
            for i in range(count)
        ]
        for process in processes:
            await asyncio.to_thread(wait_ready, url, process)
        return Group(url, processes)

    async def baselines(self, count: int) -> Group:
        """``count`` baseline app processes sharing one port."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = self.baseline_command(port, reuse_port=count > 1)
        processes = [
            self._start(command, os.environ.copy(), f"baseline-{count}-{i}.log")
            for i in range(count)
        ]
        for process in processes:
            await asyncio.to_thread(wait_ready, url, process)
        return Group(url, processes)

    def worker(self, gateway_url: str) -> subprocess.Popen[bytes]:
        """One Linkport worker."""
        return self._start([*LINKPORT, "worker"], self.linkport_env(gateway_url), "worker.log")

    def baseline_worker(self, stats: Path, *, burst: bool) -> subprocess.Popen[bytes]:
        """One no-op arq worker with Linkport's tuning; writes what it saw to ``stats``."""
        defaults = Settings()
        command = [
            PYTHON,
            "-m",
            "bench.baseline",
            "worker",
            "--redis-url",
            self.redis_url,
            "--queue",
            QUEUE,
            "--poll-delay",
            str(defaults.worker_poll_delay),
            "--max-jobs",
            str(defaults.worker_max_jobs),
            "--stats",
            str(stats),
            *(["--burst"] if burst else []),
        ]
        return self._start(command, os.environ.copy(), "baseline-worker.log")
