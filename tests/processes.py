"""Running Linkport's own commands as real processes in tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMMAND = [sys.executable, "-m", "linkport"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def linkport_env(**values: str) -> dict[str, str]:
    """The current environment without any LINKPORT_ variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPORT_")}
    env.update(values)
    return env


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``linkport ARGS`` to completion."""
    return subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``linkport ARGS`` in the background, its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen([*COMMAND, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll ``/readyz`` until it answers 200, failing if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=1) as reply:  # noqa: S310
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base_url} not ready within {timeout}s")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 20) -> int:
    """SIGTERM, then wait; returns the exit code."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
