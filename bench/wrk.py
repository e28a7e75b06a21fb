"""Driving HTTP load with wrk (a separate C process, far from being the bottleneck)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("post.lua")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: requests completed, seconds, latency percentiles, and failures."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    @property
    def per_second(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


def require_wrk() -> str:
    """wrk's path, or a clear error saying how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("the benchmark needs wrk: apt-get install wrk (Debian's package)")
    return path


def run_wrk(
    url: str,
    *,
    bodies: Path,
    headers: dict[str, str],
    seconds: float,
    connections: int,
) -> WrkResult:
    """POST ``bodies`` (one per line, in turn) to ``url`` for ``seconds`` with one thread."""
    command = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(bodies),
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)  # noqa: S603
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    failures = sum(raw["errors"].values())
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        failures=failures,
    )
