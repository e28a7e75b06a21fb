"""Webhooks API contracts: endpoints, event types, deliveries with their attempts, the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from shared.schemas import HttpUrl, PageQuery, RequestModel, ResponseModel
from shared.webhooks.envelopes import formats_for
from shared.webhooks.models import (
    SUBSCRIBABLE,
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointFormat,
    EventLogEntry,
    Message,
    MessageStatus,
    WebhookEventType,
    message_ref,
)

Description = Annotated[str, Field(max_length=500)]


def _subscribable(value: WebhookEventType) -> WebhookEventType:
    if value not in SUBSCRIBABLE:
        raise ValueError(f"{value} is sent on request only; it cannot be subscribed to")
    return value


EventTypes = Annotated[
    list[Annotated[WebhookEventType, AfterValidator(_subscribable)]],
    Field(
        min_length=1,
        max_length=20,
        description="event types to receive; omitted or null: every type that is not opt-in",
    ),
]


class WebhookEndpointCreate(RequestModel):
    """Register an endpoint; the answer carries its signing secret, once."""

    url: HttpUrl
    event_types: EventTypes | None = None
    description: Description | None = None
    format: EndpointFormat = Field(
        default=EndpointFormat.STANDARD,
        description="standard: Standard Webhooks; gocobalt or vital: the body and signature "
        "header those products' receivers expect",
    )
    enabled: bool = True


class WebhookEndpointUpdate(RequestModel):
    """Change an endpoint; only the fields sent change. ``enabled: true`` re-enables one
    that was disabled (by a 410 or days of failures) and clears its failure streak."""

    url: HttpUrl | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    format: EndpointFormat | None = None
    enabled: bool | None = None


class WebhookEndpointRead(ResponseModel):
    """An endpoint (never its secret)."""

    id: str
    url: str
    description: str | None
    event_types: list[str] | None = Field(description="null: every event type that is not opt-in")
    format: EndpointFormat
    enabled: bool
    disabled_reason: DisabledReason | None = Field(
        description="manual, gone (it answered 410) or failing (every attempt failed for days)"
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="first failure of the current unbroken run of failures"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="until then, messages are also signed with the secret before the last rotation"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> WebhookEndpointRead:
        """The API's view of an endpoint."""
        return cls(
            id=str(endpoint.id),
            url=endpoint.url,
            description=endpoint.description,
            event_types=None
            if endpoint.event_types is None
            else [str(t) for t in endpoint.event_types],
            format=endpoint.format,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            disabled_at=endpoint.disabled_at,
            failing_since=endpoint.failing_since,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookEndpointCreated(WebhookEndpointRead):
    """A new endpoint and its signing secret (shown once; stored encrypted)."""

    secret: str = Field(description="whsec_…: verify signatures with it")


class WebhookSecretRotated(WebhookEndpointRead):
    """The endpoint's new secret (shown once); the previous one signs beside it until
    ``previous_secret_expires_at``."""

    secret: str


class WebhookEventTypeRead(ResponseModel):
    """An event type endpoints can subscribe to."""

    name: str
    description: str
    opt_in: bool = Field(description="sent only to endpoints that name it in event_types")
    formats: list[EndpointFormat] = Field(description="endpoint formats that receive it")

    @classmethod
    def of(cls, event_type: WebhookEventType) -> WebhookEventTypeRead:
        """The API's view of an event type."""
        return cls(
            name=event_type.value,
            description=event_type.description,
            opt_in=event_type.opt_in,
            formats=list(formats_for(event_type)),
        )


class WebhookAttemptRead(ResponseModel):
    """One try: what the endpoint answered (the first 2 KB) and how long it took."""

    attempt: int
    url: str
    status_code: int | None
    response_body: str | None
    error: str | None
    succeeded: bool
    started_at: datetime
    duration_ms: float

    @classmethod
    def of(cls, attempt: Attempt) -> WebhookAttemptRead:
        """The API's view of an attempt."""
        return cls(
            attempt=attempt.attempt,
            url=attempt.url,
            status_code=attempt.status_code,
            response_body=attempt.response_body,
            error=attempt.error,
            succeeded=attempt.succeeded,
            started_at=attempt.started_at,
            duration_ms=round(attempt.duration_ms, 2),
        )


class WebhookDeliveryRead(ResponseModel):
    """One message's delivery to one endpoint."""

    id: str
    message_id: str = Field(description="the webhook-id header the endpoint receives (msg_…)")
    endpoint_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    payload: dict[str, Any] | None = Field(
        default=None, description="only on GET /v1/webhook-deliveries/{id}"
    )
    attempt_log: list[WebhookAttemptRead] | None = Field(
        default=None, description="every attempt, first first (only on single-delivery routes)"
    )

    @classmethod
    def of(
        cls,
        delivery: Delivery,
        *,
        payload: dict[str, Any] | None = None,
        attempts: list[Attempt] | None = None,
    ) -> WebhookDeliveryRead:
        """The API's view of a delivery."""
        return cls(
            id=str(delivery.id),
            message_id=message_ref(delivery.message_id),
            endpoint_id=str(delivery.endpoint_id),
            event_type=delivery.event_type.value,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
            payload=payload,
            attempt_log=None if attempts is None else [WebhookAttemptRead.of(a) for a in attempts],
        )


class WebhookDeliveryQuery(PageQuery):
    """Filters of an endpoint's delivery list."""

    status: DeliveryStatus | None = None


class EventDeliveryRead(ResponseModel):
    """Where a message's delivery to one endpoint stands."""

    id: str
    endpoint_id: str
    status: DeliveryStatus


class WebhookEventRead(ResponseModel):
    """A message in the event log: what was sent, and how its deliveries stand."""

    id: str = Field(description="the webhook-id header (msg_…)")
    type: str
    timestamp: datetime
    payload: dict[str, Any] = Field(
        description="{type, timestamp, data} as standard endpoints receive it"
    )
    status: MessageStatus = Field(
        description="pending, succeeded (every delivery), failed (one at least), or "
        "undelivered (no enabled endpoint took it)"
    )
    deliveries: list[EventDeliveryRead]

    @classmethod
    def of(cls, entry: EventLogEntry) -> WebhookEventRead:
        """The API's view of an event log entry."""
        message: Message = entry.message
        return cls(
            id=message.ref,
            type=message.type.value,
            timestamp=message.created_at,
            payload=message.payload,
            status=entry.status,
            deliveries=[
                EventDeliveryRead(id=str(d), endpoint_id=str(e), status=s)
                for d, e, s in entry.deliveries
            ],
        )


class WebhookEventQuery(PageQuery):
    """Filters of the event log."""

    type: WebhookEventType | None = None
    status: MessageStatus | None = None
    since: datetime | None = Field(default=None, description="created at or after (ISO 8601)")
    until: datetime | None = Field(default=None, description="created before (ISO 8601)")
    endpoint_id: str | None = Field(
        default=None, max_length=64, description="only deliveries to this endpoint count"
    )
