"""Job ids name their function, so a worker knows a started job's time limit from its id."""

from __future__ import annotations

import uuid

from shared.config import Settings
from shared.infra import queue
from workers.worker import LinkportWorker, create_worker


def test_job_ids_name_their_function() -> None:
    some = uuid.uuid4()
    assert queue.function_of(queue.execution_job(some, 3).job_id) == queue.RUN_EXECUTION
    assert queue.function_of(queue.webhook_job(some, 0).job_id) == queue.DELIVER_WEBHOOK
    (fan_out,) = queue.fan_out_jobs([some])
    assert queue.function_of(fan_out.job_id) == queue.FAN_OUT
    assert queue.function_of("cron:sweep:1764172800000") is None


def test_a_started_job_counts_as_running_for_its_own_time_limit() -> None:
    """After a SIGKILL, a fan-out or an execution runs again once ITS limit (+10 s) is past,
    not the longest of all (a webhook delivery's)."""
    worker = create_worker(Settings(execution_lease=2, webhook_timeout=15))
    assert isinstance(worker, LinkportWorker)
    some = uuid.uuid4()
    assert worker._in_progress_for(queue.execution_job(some, 1).job_id) == 12_000
    (fan_out,) = queue.fan_out_jobs([some])
    assert worker._in_progress_for(fan_out.job_id) == 12_000
    assert worker._in_progress_for(queue.webhook_job(some, 0).job_id) == (3 * 15 + 10 + 10) * 1000
    assert worker._in_progress_for("cron:sweep:1") == worker._in_progress_for(
        queue.webhook_job(some, 0).job_id
    )  # unknown: arq's longest
