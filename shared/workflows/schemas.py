"""Workflows: what runs in which app when an event arrives, with the fields end users fill in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, StringConstraints

from shared.events.schemas import EventName
from shared.schemas import Name, RequestModel, ResponseModel, Slug
from shared.workflows.models import FieldType, Workflow

FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
# models.FieldType's values. A Literal, not the enum: the published schema and the 422's
# error type ("literal_error") stay as they were.
FieldTypeValue = Literal["text", "number", "boolean", "select"]
assert set(get_args(FieldTypeValue)) == set(FieldType)


class Trigger(RequestModel):
    """The event that starts the workflow."""

    event: EventName


class WorkflowField(RequestModel):
    """A config field an end user fills in for this workflow."""

    key: FieldKey
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: FieldTypeValue = "text"
    required: bool = False
    default: Any = None
    options: list[str] | None = Field(default=None, max_length=200, description="for type select")


class Step(RequestModel):
    """One call: an action, its input (templates over event, config, linked_account, steps)."""

    id: StepId
    action: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")]
    input: dict[str, Any] = Field(default_factory=dict)
    when: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="a Jinja expression; the step is skipped when it is false"
    )


class WorkflowCreate(RequestModel):
    """A workflow definition (validated whole on save)."""

    name: Name
    app: Slug
    trigger: Trigger
    fields: Annotated[list[WorkflowField], Field(max_length=50)] = Field(default_factory=list)
    steps: Annotated[list[Step], Field(min_length=1, max_length=50)]
    default_enabled: bool = Field(
        default=False, description="run for accounts whose config does not mention this workflow"
    )


class WorkflowRead(ResponseModel):
    """A workflow as stored."""

    id: str
    name: str
    app: str
    trigger: dict[str, str]
    fields: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    default_enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, workflow: Workflow) -> WorkflowRead:
        """A workflow as the API shows it."""
        stored = workflow.definition.to_stored()
        return cls(
            id=str(workflow.id),
            name=workflow.name,
            app=workflow.app,
            trigger={"event": workflow.trigger_event},
            fields=stored["fields"],
            steps=stored["steps"],
            default_enabled=workflow.definition.default_enabled,
            created_at=workflow.created_at,
            updated_at=workflow.updated_at,
        )
