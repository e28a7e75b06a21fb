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
