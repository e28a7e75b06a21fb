"""Executions as the code sees them: one per (event, workflow), typed, with status enums."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from shared.connections.models import StoredConnection
from shared.tenancy import Tenant
from shared.workflows.models import WorkflowDefinition


class ExecutionStatus(StrEnum):
    """Where an execution stands; ``succeeded``, ``failed`` and ``needs_reauth`` are final
    (a replay reopens the last two)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NEEDS_REAUTH = "needs_reauth"


class StepStatus(StrEnum):
    """How a step ended; a step that succeeded or was skipped is never run again."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ErrorKind = Literal["retryable", "unauthorized", "fatal", "internal"]


@dataclass(frozen=True, slots=True)
class Execution:
    """An execution row."""

    id: uuid.UUID
    tenant: Tenant
    event_id: uuid.UUID
    workflow_id: uuid.UUID
    linked_account_id: str
    connection_id: uuid.UUID
    config_id: uuid.UUID | None
    status: ExecutionStatus
    attempts: int
    next_attempt_at: datetime
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    trace_context: str | None = None  # the fan-out span's traceparent, while tracing is on


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What an earlier attempt recorded for a step."""

    status: StepStatus
    output: Any


@dataclass(frozen=True, slots=True)
class ClaimedExecution:
    """An execution just claimed, with everything running it reads: one round trip."""

    execution: Execution
    workflow_app: str | None  # None: the workflow is gone
    definition: WorkflowDefinition | None
    payload: dict[str, Any]
    config_values: dict[str, Any]
    account_name: str | None
    account_metadata: dict[str, Any]
    connection: StoredConnection | None
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepRun:
    """A step's outcome, to be recorded (its attempts are counted across retries)."""

    step_id: str
    position: int
    status: StepStatus
    input: Any
    output: Any
    error: Any
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A recorded step, as history shows it."""

    step_id: str
    status: StepStatus
    input: Any
    output: Any
    error: Any
    attempts: int
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class DueWork:
    """What the sweeper found due without a live job: events to fan out, executions to run."""

    event_ids: list[uuid.UUID]
    executions: list[tuple[uuid.UUID, int]]  # (id, attempts)


@dataclass(frozen=True, slots=True)
class ExecutionListing:
    """An execution with the names a listing shows beside it (its workflow may be gone)."""

    execution: Execution
    workflow_name: str | None
    app: str | None
    config_id: str | None  # the config's name (the client's ``config_id``), not its row id
