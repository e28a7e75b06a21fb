"""Execution history: one execution per (event, workflow), with every step's record."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.schemas import PageQuery, ResponseModel

ExecutionStatus = Literal["pending", "running", "succeeded", "failed", "needs_reauth"]


class ExecutionQuery(PageQuery):
    """Filters of ``GET /v1/executions``."""

    status: ExecutionStatus | None = None
    event_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=64)
    linked_account_id: str | None = Field(default=None, max_length=255)


class StepRunRead(ResponseModel):
    """One step's checkpoint (secrets in input/output redacted)."""

    step_id: str
    status: Literal["succeeded", "failed", "skipped"]
    input: Any
    output: Any
    error: Any
    attempts: int
    started_at: datetime
    finished_at: datetime
    duration_ms: float


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
