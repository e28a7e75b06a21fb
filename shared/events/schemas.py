"""App events: their definitions (name + JSON Schema, versioned) and the events themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from shared.events.models import Event, EventDefinition, EventStatus
from shared.schemas import ExternalId, RequestModel, ResponseModel

# Free text, as product teams name their events ("contact.created", "New Contact Created"): up
# to 128 printable characters, no control characters (C0, DEL, C1, line/paragraph separators),
# no leading or trailing whitespace. In a URL path it is percent-encoded ("%20" for a space).
_EVENT_NAME_CHAR = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"
_EVENT_NAME_EDGE = r"[^\s\x00-\x1f\x7f-\x9f]"
EventName = Annotated[
    str,
    StringConstraints(
        pattern=rf"^{_EVENT_NAME_EDGE}(?:{_EVENT_NAME_CHAR}{{0,126}}{_EVENT_NAME_EDGE})?$"
    ),
]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
BATCH_LIMIT = 1000


class EventDefinitionCreate(RequestModel):
    """A new definition, or a new version of one: a JSON Schema, or a sample to infer it from."""

    name: EventName
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    sample: dict[str, Any] | None = Field(
        default=None, description="a sample payload (JSON object)"
    )

    @model_validator(mode="after")
    def _one_of_schema_or_sample(self) -> EventDefinitionCreate:
        if (self.schema_ is None) == (self.sample is None):
            raise ValueError("give either schema or sample")
        return self


class EventDefinitionRead(ResponseModel):
    """One version of an event definition."""

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    name: str
    version: int
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    created_at: datetime
    changed: bool = Field(default=True, description="false when the same schema was posted again")

    @classmethod
    def of(cls, definition: EventDefinition, *, changed: bool = True) -> EventDefinitionRead:
        """A stored version as the API shows it."""
        return cls(
            name=definition.name,
            version=definition.version,
            schema_=definition.schema,
            created_at=definition.created_at,
            changed=changed,
        )


class EventCreate(RequestModel):
    """An app event from your backend."""

    event: EventName
    linked_account_id: ExternalId
    payload: dict[str, Any]
    config_id: ExternalId | None = None


class BatchEventCreate(EventCreate):
    """One event of a batch (its idempotency key travels in the body)."""

    idempotency_key: IdempotencyKey | None = None


class EventBatchCreate(RequestModel):
    """Up to 1,000 events, committed together or not at all."""

    events: Annotated[list[BatchEventCreate], Field(min_length=1, max_length=BATCH_LIMIT)]


# models.EventStatus's values, as a Literal so that /openapi.json stays as it was (the enum
# would add a named component).
EventStatusValue = Literal["pending", "fanned_out"]
assert set(get_args(EventStatusValue)) == set(EventStatus)


class EventAccepted(ResponseModel):
    """The event is durable; its workflows run asynchronously."""

    event_id: str
    status: EventStatusValue


class EventBatchAccepted(ResponseModel):
    """Every event of the batch, in order."""

    data: list[EventAccepted]


class ExecutionSummary(ResponseModel):
    """An execution as listed under its event."""

    id: str
    workflow_id: str
    status: str


class EventRead(ResponseModel):
    """An event, its status and the executions it started."""

    id: str
    event: str
    definition_version: int
    linked_account_id: str
    config_id: str | None
    payload: dict[str, Any]
    status: EventStatusValue
    created_at: datetime
    executions: list[ExecutionSummary]

    @classmethod
    def of(cls, event: Event, executions: list[ExecutionSummary]) -> EventRead:
        """A stored event, with the executions it started, as the API shows it."""
        return cls(
            id=str(event.id),
            event=event.name,
            definition_version=event.definition_version,
            linked_account_id=event.linked_account_id,
            config_id=event.config_id,
            payload=event.payload,
            status=event.status,
            created_at=event.created_at,
            executions=executions,
        )
