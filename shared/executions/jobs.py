"""The worker's jobs for events and executions: ids in, rows out (see ``shared.infra.queue``)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.executions import fan_out
from shared.executions.service import Runner, run_execution

Ctx = dict[str, Any]


def _runner(ctx: Ctx) -> Runner:
    runner: Runner = ctx["runner"]
    return runner


async def fan_out_events(ctx: Ctx, event_ids: list[str]) -> int:
    """Job: create the events' executions and run (a few) or enqueue (many) them."""
    return await fan_out.fan_out_and_run(_runner(ctx), event_ids=[uuid.UUID(e) for e in event_ids])


async def run_one_execution(ctx: Ctx, execution_id: str) -> str | None:
    """Job: run or resume one execution."""
    return await run_execution(_runner(ctx), execution_id=uuid.UUID(execution_id))


async def sweep(ctx: Ctx) -> tuple[int, int]:
    """Cron: re-enqueue due work that may have lost its job."""
    return await fan_out.sweep(_runner(ctx))
