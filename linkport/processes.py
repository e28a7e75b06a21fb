"""Running Linkport's commands (and helpers beside them) as child processes.

``linkport dev``, the tests and the benchmark all start processes, find free ports and
wait for readiness; they do it here, one way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

LINKPORT = (sys.executable, "-m", "linkport")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def linkport_env(**values: str) -> dict[str, str]:
    """The current environment without any ``LINKPORT_`` variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPORT_")}
    env.update(values)
    return env


def start(
    command: Sequence[str], *, env: dict[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in the background, its output going to ``log`` (or inherited)."""
    if log is None:
        return subprocess.Popen(list(command), env=env)  # noqa: S603 - our own commands
    with log.open("wb") as out:
        return subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def stop(process: subprocess.Popen[bytes], *, timeout: float = 20) -> int:
    """SIGTERM, then wait; returns the exit code (SIGKILL and re-raise if it will not stop)."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None = None, *, timeout: float = 10.0
) -> None:
    """Return once something accepts connections on loopback ``port``; raise if the process
    exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def wait_ready(
    base_url: str, process: subprocess.Popen[bytes] | None = None, *, timeout: float = 60.0
) -> None:
    """Poll ``/readyz`` until it answers 200; raise if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before it was ready")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(base_url + "/readyz", timeout=1) as reply,  # noqa: S310
        ):
            if reply.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{base_url} not ready within {timeout}s")
