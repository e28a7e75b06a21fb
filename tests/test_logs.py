"""Log hygiene of the worker: arq's two lines per job are left out below DEBUG."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logs import configure_logging

# The format strings arq 0.28 uses for a job starting, finishing, and being handed back.
STARTED = ("%6.2fs → %s(%s)%s", 0.01, "exec:1:0:run_execution", "'1'", "")
FINISHED = ("%6.2fs ← %s ● %s", 0.02, "exec:1:0:run_execution", "'succeeded'")
HANDED_BACK = ("%6.2fs ↻ %s cancelled, will be run again", 0.5, "exec:1:0:run_execution")
STARTING = ("Starting worker for %d functions: %s", 2, "fan_out, run_execution")


def _events(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]


def test_arq_job_lines_are_left_out_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    arq_log = logging.getLogger("arq.worker")
    try:
        configure_logging("INFO", json=True)
        for line in (STARTING, STARTED, FINISHED, HANDED_BACK):
            arq_log.info(*line)
        assert _events(capsys) == [
            "Starting worker for 2 functions: fan_out, run_execution",
            "  0.50s ↻ exec:1:0:run_execution cancelled, will be run again",
        ]

        configure_logging("DEBUG", json=True)
        arq_log.info(*STARTED)
        arq_log.info(*FINISHED)
        assert _events(capsys) == [
            "  0.01s → exec:1:0:run_execution('1')",
            "  0.02s ← exec:1:0:run_execution ● 'succeeded'",
        ]
    finally:
        configure_logging("WARNING", json=True)
