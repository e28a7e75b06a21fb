"""Job names, job ids, enqueueing, and the JSON job serializer: one place for what crosses arq.

Jobs carry ids only (never secrets or payloads). Job ids are deterministic per attempt, so
the same work enqueued twice (by the gateway, a retry, and the sweeper) is one job.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis
from redis.exceptions import RedisError

RECORD_HEARTBEAT = "record_heartbeat"
FAN_OUT = "fan_out"
RUN_EXECUTION = "run_execution"
SWEEP = "sweep"

log = structlog.get_logger(logger_name="linkport.jobs")


def job_serializer(value: dict[str, Any]) -> bytes:
    """arq's job record as JSON."""
    return orjson.dumps(value)


def job_deserializer(raw: bytes) -> dict[str, Any]:
    """arq's job record from JSON."""
    value: dict[str, Any] = orjson.loads(raw)
    return value


async def _enqueue(
    redis: ArqRedis, name: str, job_id: str, arg: str, defer_until: datetime | None
) -> bool:
    """Enqueue, tolerating Redis being down: the row is durable and the sweeper will enqueue it."""
    try:
        job = await redis.enqueue_job(name, arg, _job_id=job_id, _defer_until=defer_until)
    except (RedisError, OSError) as exc:
        log.warning("enqueue_failed", job=name, error=type(exc).__name__)
        return False
    return job is not None


async def enqueue_fan_out(redis: ArqRedis, event_id: uuid.UUID, attempt: int) -> bool:
    """Fan an event out (attempt-numbered job id)."""
    return await _enqueue(redis, FAN_OUT, f"fanout:{event_id}:{attempt}", str(event_id), None)


async def enqueue_execution(
    redis: ArqRedis, execution_id: uuid.UUID, attempt: int, defer_until: datetime | None = None
) -> bool:
    """Run an execution (attempt-numbered job id), now or at ``defer_until``."""
    return await _enqueue(
        redis, RUN_EXECUTION, f"exec:{execution_id}:{attempt}", str(execution_id), defer_until
    )


async def enqueue_sweep(redis: ArqRedis) -> bool:
    """Ask a worker to sweep now (a batch of events waits): at most one such job at a time."""
    return await _enqueue(redis, SWEEP, "sweep:now", "", None)
