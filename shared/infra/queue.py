"""Job names, job ids, enqueueing, and the JSON job serializer: one place for what crosses arq.

Jobs carry ids only (never secrets or payloads). Job ids are deterministic, so the same
work enqueued twice (by the gateway, a retry, and the sweeper) is one job.

Enqueueing writes arq's own job record (``arq.jobs.serialize_job``) under arq's keys, as
``ArqRedis.enqueue_job`` does, but in one round trip: arq's enqueue is WATCH, EXISTS, then
MULTI/PSETEX/ZADD/EXEC (three round trips and a pooled connection held across them); a
script does the same check-and-set atomically, and many of them share one pipeline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.exceptions import RedisError

FAN_OUT = "fan_out"
RUN_EXECUTION = "run_execution"
DELIVER_WEBHOOK = "deliver_webhook"

# Job ids start with their function's prefix (``exec:…``, ``fanout:…``, ``whd:…``).
_PREFIXES = {"exec": RUN_EXECUTION, "fanout": FAN_OUT, "whd": DELIVER_WEBHOOK}


def function_of(job_id: str) -> str | None:
    """The function a job id made here runs (None for others, such as arq's cron ids)."""
    return _PREFIXES.get(job_id.partition(":")[0])


# How many events one fan-out job takes from a batch: the job runs their executions itself
# when they are few (see executor.INLINE_EXECUTIONS), so a batch is spread over many jobs.
FAN_OUT_CHUNK = 10

log = structlog.get_logger(logger_name="linkport.jobs")

# KEYS: the queue, then each job's key and result key; ARGV: each job's expiry (ms), record,
# score and id. A job whose id is queued, running (its record exists) or has a kept result
# is not enqueued again: arq's rule. Returns how many were added.
_ENQUEUE = """
local added = 0
for i = 0, #ARGV / 4 - 1 do
  if redis.call('EXISTS', KEYS[2 + 2 * i], KEYS[3 + 2 * i]) == 0 then
    redis.call('PSETEX', KEYS[2 + 2 * i], ARGV[1 + 4 * i], ARGV[2 + 4 * i])
    redis.call('ZADD', KEYS[1], ARGV[3 + 4 * i], ARGV[4 + 4 * i])
    added = added + 1
  end
end
return added
"""
# Jobs per script call: a call blocks Redis while it runs, so very large lots are split.
_JOBS_PER_CALL = 1000


def job_serializer(value: dict[str, Any]) -> bytes:
    """arq's job record as JSON."""
    return orjson.dumps(value)


def job_deserializer(raw: bytes) -> dict[str, Any]:
    """arq's job record from JSON."""
    value: dict[str, Any] = orjson.loads(raw)
    return value


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue: its function, deterministic id, argument, and when it is due."""

    function: str
    job_id: str
    arg: str | list[str]
    defer_until: datetime | None = None

    def script_keys_and_args(self, now_ms: int) -> tuple[list[str], list[Any]]:
        """This job's keys and arguments for the enqueue script."""
        score = int(self.defer_until.timestamp() * 1000) if self.defer_until else now_ms
        record = serialize_job(
            self.function, (self.arg,), {}, None, now_ms, serializer=job_serializer
        )
        keys = [job_key_prefix + self.job_id, result_key_prefix + self.job_id]
        return keys, [score - now_ms + expires_extra_ms, record, score, self.job_id]


async def enqueue(redis: ArqRedis, job: JobSpec) -> bool:
    """Enqueue one job (one round trip); False when it already exists or Redis is down (the
    row is durable and the sweeper will enqueue it)."""
    return await enqueue_many(redis, [job]) == 1


async def enqueue_many(redis: ArqRedis, specs: Sequence[JobSpec]) -> int:
    """Enqueue jobs, a thousand per script call; returns how many were new (those enqueued
    before Redis failed, if it did: the rows are durable and the sweeper enqueues the rest)."""
    script = redis.register_script(_ENQUEUE)
    added = 0
    for start in range(0, len(specs), _JOBS_PER_CALL):
        lot = specs[start : start + _JOBS_PER_CALL]
        now_ms = int(time.time() * 1000)
        keys: list[str] = [redis.default_queue_name]
        args: list[Any] = []
        for spec in lot:
            job_keys, job_args = spec.script_keys_and_args(now_ms)
            keys += job_keys
            args += job_args
        try:
            added += int(await script(keys, args))
        except (RedisError, OSError) as exc:
            log.warning(
                "enqueue_failed", job=lot[0].function, count=len(lot), error=type(exc).__name__
            )
            break
    return added


def fan_out_jobs(event_ids: Sequence[uuid.UUID]) -> list[JobSpec]:
    """Fan-out jobs for events, ``FAN_OUT_CHUNK`` at a time. A job id names its lot, so the
    same lot enqueued again is the same job."""
    return [
        JobSpec(FAN_OUT, f"fanout:{lot[0]}:{len(lot)}", [str(e) for e in lot])
        for lot in (
            event_ids[i : i + FAN_OUT_CHUNK] for i in range(0, len(event_ids), FAN_OUT_CHUNK)
        )
    ]


def execution_job(
    execution_id: uuid.UUID, attempt: int, defer_until: datetime | None = None
) -> JobSpec:
    """Run an execution (attempt-numbered job id), now or at ``defer_until``."""
    return JobSpec(RUN_EXECUTION, f"exec:{execution_id}:{attempt}", str(execution_id), defer_until)


def webhook_job(
    delivery_id: uuid.UUID, attempts: int, defer_until: datetime | None = None
) -> JobSpec:
    """Attempt a webhook delivery that has had ``attempts`` attempts, now or at ``defer_until``."""
    return JobSpec(DELIVER_WEBHOOK, f"whd:{delivery_id}:{attempts}", str(delivery_id), defer_until)
