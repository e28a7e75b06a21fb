"""Log output: buffered but never lost or late for long; arq's two lines per job left out."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
import structlog

from shared.infra.logs import (
    REQUEST_ID,
    BufferedStderr,
    access_log,
    configure_logging,
    log_sink,
)

# The format strings arq 0.28 uses for a job starting, finishing, and being handed back.
STARTED = ("%6.2fs → %s(%s)%s", 0.01, "exec:1:0:run_execution", "'1'", "")
FINISHED = ("%6.2fs ← %s ● %s", 0.02, "exec:1:0:run_execution", "'succeeded'")
HANDED_BACK = ("%6.2fs ↻ %s cancelled, will be run again", 0.5, "exec:1:0:run_execution")
STARTING = ("Starting worker for %d functions: %s", 2, "fan_out, run_execution")


def _events(capsys: pytest.CaptureFixture[str]) -> list[str]:
    log_sink.flush()
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


def test_lines_are_written_in_blocks_warnings_at_once_and_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = structlog.get_logger(logger_name="test")
    try:
        configure_logging("INFO", json=True)
        log.info("first")
        log.info("second")
        assert capsys.readouterr().err == ""  # buffered: no write per line
        log.warning("trouble")  # written at once, after what came before it
        assert [json.loads(x)["event"] for x in capsys.readouterr().err.splitlines()] == [
            "first",
            "second",
            "trouble",
        ]

        log.info("later")
        deadline = time.monotonic() + 5
        written = ""
        while "later" not in written:  # the flusher writes it within its interval
            assert time.monotonic() < deadline, "an INFO line stayed in the buffer"
            time.sleep(0.02)
            written += capsys.readouterr().err
    finally:
        configure_logging("WARNING", json=True)


def test_the_access_line_is_json_for_any_path_and_hides_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = REQUEST_ID.set("req-1")
    try:
        configure_logging("INFO", json=True)
        odd = '/v1/linked-accounts/a"b\\c/ü/lt_AbCdEfGhIjKlMnOp'
        access_log.write(method="GET", path=odd, status=404, started=time.perf_counter())
        log_sink.flush()
        (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    finally:
        REQUEST_ID.reset(token)
        configure_logging("WARNING", json=True)
    assert line["path"] == '/v1/linked-accounts/a"b\\c/ü/[redacted]'
    assert (line["method"], line["status"], line["request_id"]) == ("GET", 404, "req-1")
    assert line["duration_ms"] >= 0
    assert line["timestamp"].endswith("Z")


def test_a_full_buffer_is_written_at_once_and_closing_writes_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink = BufferedStderr()
    for n in range(sink.CAPACITY - 1):
        sink.write(f"line {n}")
    assert capsys.readouterr().err == ""
    sink.write("the last that fits")  # the buffer is full: one block, in order
    written = capsys.readouterr().err.splitlines()
    assert written[0] == "line 0"
    assert written[-1] == "the last that fits"
    assert len(written) == sink.CAPACITY
    sink.write("after")
    sink.close()  # what logging.shutdown does at exit
    assert capsys.readouterr().err == "after\n"


def test_lines_still_buffered_at_exit_are_written() -> None:
    program = (
        "import logging, structlog\n"
        "from shared.infra.logs import configure_logging\n"
        "configure_logging('INFO', json=True)\n"
        "structlog.get_logger().info('from structlog')\n"
        "logging.getLogger('some.library').info('from the standard library')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["from structlog", "from the standard library"]
    assert lines[1]["logger_name"] == "some.library"
