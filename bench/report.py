"""The results: one row per figure, Linkport beside its baseline, as a Markdown table."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field


@dataclass
class Side:
    """One side of a figure: a rate (per second) and latency percentiles in ms."""

    rate: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    unit: str = "req/s"


@dataclass
class Figure:
    """A measured figure and its baseline."""

    name: str
    linkport: Side
    baseline: Side
    goal: float | None = None
    compared: bool = True  # False: both sides ran at the same rate; only latencies compare
    note: str = ""

    @property
    def ratio(self) -> float:
        """Linkport's rate over the baseline's."""
        return self.linkport.rate / self.baseline.rate if self.baseline.rate else 0.0


@dataclass
class Memory:
    """Resident memory of a process at the points measured."""

    process: str
    points: dict[str, float]
    bound_mb: float

    @property
    def growth_mb(self) -> float:
        """From the first point to the last."""
        values = list(self.points.values())
        return values[-1] - values[0]


@dataclass
class Results:
    """Everything one run measured."""

    figures: list[Figure] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "machine": machine(),
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
            "memory": [{**asdict(m), "growth_mb": m.growth_mb} for m in self.memory],
        }


def median_side(sides: list[Side]) -> Side:
    """The median of each number over repeated runs."""

    def med(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    return Side(
        statistics.median(s.rate for s in sides),
        med([s.p50_ms for s in sides]),
        med([s.p99_ms for s in sides]),
        sides[0].unit,
    )


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return "?"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "?"
    )


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as info:
        mem_kb = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": _version(["psql", "--version"]),
        "redis": _version(["redis-server", "--version"]),
        "wrk": _version(["wrk", "--version"]),
    }


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(results: Results) -> str:
    """The Markdown table of figures, then memory."""
    lines = [
        "| figure | Linkport | p50 ms | p99 ms | baseline | p50 ms | p99 ms | ratio | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in results.figures:
        goal = "–" if f.goal is None else f"≥ {f.goal:.1f}"
        verdict = "" if f.goal is None else (" ✓" if f.ratio >= f.goal else " ✗")
        ratio = f"{f.ratio:.2f}{verdict}" if f.compared else "–"
        lines.append(
            f"| {f.name} | {_num(f.linkport.rate)} {f.linkport.unit} | {_ms(f.linkport.p50_ms)} | "
            f"{_ms(f.linkport.p99_ms)} | {_num(f.baseline.rate)} {f.baseline.unit} | "
            f"{_ms(f.baseline.p50_ms)} | {_ms(f.baseline.p99_ms)} | {ratio} | {goal} |"
        )
    if results.memory:
        points = list(results.memory[0].points)
        lines += [
            "",
            "| RSS MiB | " + " | ".join(points) + " | growth | bound |",
            "|---|" + "---:|" * (len(points) + 2),
        ]
        for m in results.memory:
            verdict = "✓" if m.growth_mb <= m.bound_mb else "✗"
            lines.append(
                f"| {m.process} | "
                + " | ".join(f"{v:.0f}" for v in m.points.values())
                + f" | {m.growth_mb:+.0f} {verdict} | ≤ {m.bound_mb:.0f} |"
            )
    notes = [f"- {f.name}: {f.note}" for f in results.figures if f.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def machine_line() -> str:
    """One line naming the machine."""
    m = machine()
    return (
        f"Machine: {m['cpu']}, {m['memory']}, Linux {m['kernel']}, Python {m['python']}, "
        f"{m['postgres']}, {m['redis']}, {m['wrk']}."
    )
