"""Execution history: one execution per (event, workflow), with every step's record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import Field

from shared.executions.models import Execution, ExecutionStatus, StepRecord, StepStatus
from shared.schemas import PageQuery, ResponseModel


class ExecutionQuery(PageQuery):
    """Filters of ``GET /v1/executions``."""

    status: ExecutionStatus | None = None
    event_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=64)
    linked_account_id: str | None = Field(default=None, max_length=255)


class StepRunRead(ResponseModel):
    """One step's checkpoint (secrets in input/output redacted)."""

    step_id: str
    status: StepStatus
    input: Any
    output: Any
    error: Any
    attempts: int
    started_at: datetime
    finished_at: datetime
    duration_ms: float

    @classmethod
    def of(cls, step: StepRecord, *, redact: Callable[[Any], Any]) -> StepRunRead:
        """The API's view of a recorded step (``redact`` blanks secrets)."""
        return cls(
            step_id=step.step_id,
            status=step.status,
            input=redact(step.input),
            output=redact(step.output),
            error=step.error,
            attempts=step.attempts,
            started_at=step.started_at,
            finished_at=step.finished_at,
            duration_ms=round((step.finished_at - step.started_at).total_seconds() * 1000, 2),
        )


class ExecutionRead(ResponseModel):
    """An execution: where it stands, why, and (one by one) what each step did."""

    id: str
    event_id: str
    workflow_id: str
    linked_account_id: str
    connection_id: str
    status: ExecutionStatus
    attempts: int
    next_attempt_at: datetime | None
    error: Any
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    steps: list[StepRunRead] | None = Field(
        default=None, description="only on GET /v1/executions/{id}"
    )

    @classmethod
    def of(cls, execution: Execution, steps: list[StepRunRead] | None = None) -> ExecutionRead:
        """The API's view of an execution (with its steps on the single-execution route)."""
        return cls(
            id=str(execution.id),
            event_id=str(execution.event_id),
            workflow_id=str(execution.workflow_id),
            linked_account_id=execution.linked_account_id,
            connection_id=str(execution.connection_id),
            status=execution.status,
            attempts=execution.attempts,
            next_attempt_at=(
                execution.next_attempt_at if execution.status == ExecutionStatus.PENDING else None
            ),
            error=execution.error,
            created_at=execution.created_at,
            updated_at=execution.updated_at,
            finished_at=execution.finished_at,
            steps=steps,
        )
