"""Execution history: ``/v1/executions`` (list, one with its steps, replay)."""

from __future__ import annotations

import uuid

from services.gateway.endpoints import Call, Router
from shared.errors import invalid, not_found
from shared.executions import service as executions
from shared.executions import store
from shared.executions.models import Execution
from shared.executions.schemas import ExecutionQuery, ExecutionRead, StepRunRead
from shared.infra.logs import scrub_secrets as redact
from shared.schemas import Page

router = Router("executions")


def _uuid(value: str | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(field, f"{field}: not an id") from None


@router.route(
    "GET",
    "/v1/executions",
    summary="Executions, filtered, ordered by id",
    query=ExecutionQuery,
    response=Page[ExecutionRead],
)
async def list_executions(call: Call, query: ExecutionQuery) -> Page[ExecutionRead]:
    items, next_cursor = await store.list_executions(
        call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
        status=query.status,
        event_id=_uuid(query.event_id, "event_id"),
        workflow_id=_uuid(query.workflow_id, "workflow_id"),
        linked_account_id=query.linked_account_id,
    )
    return Page[ExecutionRead](data=[ExecutionRead.of(e) for e in items], next_cursor=next_cursor)


@router.route(
    "GET",
    "/v1/executions/{execution_id}",
    summary="One execution with every step's input, output, error, attempts and timing",
    response=ExecutionRead,
)
async def get_execution(call: Call) -> ExecutionRead:
    execution = await store.get_execution(
        call.resources.pool,
        tenant=call.tenant,
        execution_id=call.path_id("execution_id", "execution"),
    )
    if execution is None:
        raise not_found("execution")
    return await _with_steps(call, execution)


@router.route(
    "POST",
    "/v1/executions/{execution_id}/replay",
    summary="Run a failed execution again, from its failed step",
    response=ExecutionRead,
)
async def replay_execution(call: Call) -> ExecutionRead:
    execution = await executions.replay(
        pool=call.resources.pool,
        redis=call.resources.redis,
        tenant=call.tenant,
        execution_id=call.path_id("execution_id", "execution"),
    )
    return await _with_steps(call, execution)


async def _with_steps(call: Call, execution: Execution) -> ExecutionRead:
    steps = await store.step_records(call.resources.pool, execution_id=execution.id)
    return ExecutionRead.of(execution, [StepRunRead.of(s, redact=redact) for s in steps])
