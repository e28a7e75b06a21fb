"""``python -m bench``: run the benchmark, print the table, save it under ``--out``."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from bench.report import machine_line, table
from bench.suite import Options, run_benchmark
from bench.wrk import require_wrk


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--smoke", is_flag=True, help="a few seconds per phase: checks the benchmark works")
@click.option("--seconds", type=int, help="length of each measured HTTP run")
@click.option("--rounds", type=int, help="baseline/Linkport alternations per HTTP figure")
@click.option("--executions", type=int, help="executions for the worker throughput figure")
@click.option("--memory-events", type=int, help="events for the memory figure")
@click.option("--processes", help="gateway process counts, e.g. 1,2")
@click.option("--only", multiple=True, help="only figures whose name contains this (repeatable)")
@click.option("--profile", is_flag=True, help="py-spy the first Linkport run of each figure")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("bench/out"), show_default=True
)
def main(
    smoke: bool,
    seconds: int | None,
    rounds: int | None,
    executions: int | None,
    memory_events: int | None,
    processes: str | None,
    only: tuple[str, ...],
    profile: bool,
    out: Path,
) -> None:
    """Start Linkport and the raw baselines on the local PostgreSQL and Redis, measure, print."""
    require_wrk()
    options = Options().smoke() if smoke else Options()
    options = replace(
        options,
        seconds=seconds or options.seconds,
        rounds=rounds or options.rounds,
        executions=executions or options.executions,
        memory_events=memory_events or options.memory_events,
        processes=tuple(int(p) for p in processes.split(",")) if processes else options.processes,
        only=only,
        profile=profile,
    )
    started = time.monotonic()

    def progress(what: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f}s] {what}", err=True)

    # SIGTERM unwinds like Ctrl-C: every process started is stopped, the database dropped.
    signal.signal(signal.SIGTERM, _interrupt)
    results = asyncio.run(run_benchmark(options, out, progress))
    text = f"{table(results)}\n\n{machine_line()}\n"
    click.echo(text)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(results.as_dict(), indent=2, default=str))
    progress(f"done; results in {out}/results.md")
    sys.exit(0)


if __name__ == "__main__":
    main()
