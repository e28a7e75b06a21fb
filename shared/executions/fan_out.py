"""Fan-out: an accepted event becomes one execution per workflow it triggers.

Which workflows run is decided in one statement (``store.fan_out_events``): the trigger
matches, the linked account has an active connection to the workflow's app (the one its
config pins, else its newest active one), and its config enables the workflow. The executions are committed before anything runs them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import structlog

from shared.executions import store
from shared.executions.service import Runner, run_execution
from shared.infra import queue, tracing

log = structlog.get_logger(logger_name="linkport.executions")

# A fan-out job runs up to this many executions itself; more are enqueued for every worker.
INLINE_EXECUTIONS = queue.FAN_OUT_CHUNK


async def fan_out_and_run(runner: Runner, *, event_ids: Sequence[uuid.UUID]) -> int:
    """What a fan-out job does: create the executions, then run them here, one after another,
    when they are few (each would otherwise cost a job of its own and a trip through the
    queue), or enqueue them for every worker to share. Returns how many were created."""
    parents: dict[uuid.UUID, str | None] = {}
    if tracing.enabled():  # one span per event, in its ingest request's trace
        parents = await store.event_trace_contexts(runner.pool, event_ids=event_ids)
    with tracing.spans(
        "linkport.fan_out",
        parents=[parents.get(e) for e in event_ids],
        attributes=[{"linkport.event_id": str(e)} for e in event_ids],
    ) as contexts:
        statement = asyncio.ensure_future(
            store.fan_out_events(
                runner.pool,
                event_ids=event_ids,
                trace_contexts=contexts if tracing.enabled() else None,
            )
        )
        try:
            created = await asyncio.shield(statement)
        except asyncio.CancelledError:
            # SIGTERM during the statement: it commits all the same, and this job's next run
            # finds the events fanned out; hand the executions to the queue now, or they
            # would wait for the sweeper.
            created = await statement
            await queue.enqueue_many(runner.redis, [queue.execution_job(e, 0) for e in created])
            raise
    log.info("events_fanned_out", event_ids=[str(e) for e in event_ids], executions=len(created))
    if len(created) > INLINE_EXECUTIONS:
        await queue.enqueue_many(runner.redis, [queue.execution_job(e, 0) for e in created])
        return len(created)
    waiting = list(created)
    try:
        while waiting:
            await run_execution(runner, execution_id=waiting[0])
            waiting.pop(0)
    except asyncio.CancelledError:
        # SIGTERM: the running one released its claim; hand every unfinished one to the
        # queue so another worker starts them now, not after the sweeper's grace period.
        await asyncio.shield(
            queue.enqueue_many(runner.redis, [queue.execution_job(e, 0) for e in waiting])
        )
        raise
    return len(created)


async def sweep(runner: Runner, *, limit: int = 500) -> tuple[int, int]:
    """Re-enqueue due work that may have no live job (Redis flushed, process killed, enqueue
    lost). Job ids make this harmless when the job does exist. Returns (events, executions)."""
    due = await store.due_work(runner.pool, limit=limit, grace=runner.settings.sweep_grace)
    await queue.enqueue_many(
        runner.redis,
        [
            *queue.fan_out_jobs(due.event_ids),
            *(queue.execution_job(e, attempts) for e, attempts in due.executions),
        ],
    )
    return len(due.event_ids), len(due.executions)
