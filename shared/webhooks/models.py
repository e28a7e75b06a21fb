"""Webhooks as the code sees them: event types, endpoint formats, and the rows of the log."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.infra.crypto import Sealed
from shared.tenancy import Tenant

MESSAGE_ID_PREFIX = "msg_"


class WebhookEventType(StrEnum):
    """What a client can be told about; opt-in types go only to endpoints that name them."""

    CONNECTION_CREATED = "connection.created"
    CONNECTION_UPDATED = "connection.updated"
    CONNECTION_NEEDS_REAUTH = "connection.needs_reauth"
    CONNECTION_DELETED = "connection.deleted"
    EXECUTION_SUCCEEDED = "execution.succeeded"
    EXECUTION_FAILED = "execution.failed"
    EVENT_REJECTED = "event.rejected"
    # Sent by ``POST /v1/webhook-endpoints/{id}/test`` to that endpoint alone; not subscribable.
    TEST = "webhook.test"

    @property
    def opt_in(self) -> bool:
        """Sent only to endpoints that subscribe to it by name."""
        return self in _OPT_IN

    @property
    def description(self) -> str:
        """What happened, in a sentence."""
        return _DESCRIPTIONS[self]


_OPT_IN = frozenset({WebhookEventType.EXECUTION_SUCCEEDED, WebhookEventType.EVENT_REJECTED})
_DESCRIPTIONS = {
    WebhookEventType.CONNECTION_CREATED: "An end user connected an app through Link.",
    WebhookEventType.CONNECTION_UPDATED: "An existing connection was authorised again (update mode, or connecting the same app again).",
    WebhookEventType.CONNECTION_NEEDS_REAUTH: "The app stopped accepting a connection's credentials; the payload carries an update-mode link token to send the user back through Link.",
    WebhookEventType.CONNECTION_DELETED: "A connection was deleted, with its credentials.",
    WebhookEventType.EXECUTION_SUCCEEDED: "A workflow execution finished successfully (opt-in).",
    WebhookEventType.EXECUTION_FAILED: "A workflow execution failed for good, or stopped because its connection needs re-authorisation.",
    WebhookEventType.EVENT_REJECTED: "An app event was refused (unknown event or account, invalid payload) (opt-in).",
    WebhookEventType.TEST: "A test message sent on request to one endpoint.",
}

# The types a client may subscribe to.
SUBSCRIBABLE = tuple(t for t in WebhookEventType if t is not WebhookEventType.TEST)


class EndpointFormat(StrEnum):
    """The body and headers an endpoint receives."""

    STANDARD = "standard"  # {type, timestamp, data}, Standard Webhooks headers
    GOCOBALT = "gocobalt"  # gocobalt's event names and body, x-cobalt-signature
    VITAL = "vital"  # Vital's provider.connection.* envelope, svix-* headers
    EMR = "emr"  # the EMR API's body, cobalt-verification, ISO webhook-timestamp, webhook-attempt


class DeliveryStatus(StrEnum):
    """Where one message's delivery to one endpoint stands."""

    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MessageStatus(StrEnum):
    """How a message's deliveries stand, taken together (the event log's ``status``)."""

    PENDING = "pending"  # one at least is still pending or being sent
    SUCCEEDED = "succeeded"  # every one succeeded
    FAILED = "failed"  # one at least failed for good
    UNDELIVERED = "undelivered"  # no enabled endpoint took it


class DisabledReason(StrEnum):
    """Why an endpoint receives nothing."""

    MANUAL = "manual"  # the client disabled it
    GONE = "gone"  # it answered 410 Gone
    FAILING = "failing"  # every attempt failed for webhook_disable_after_days


def new_message_id() -> uuid.UUID:
    """A version 7 UUID: milliseconds since the epoch, then random bits (sorts by time)."""
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80
    value |= int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def message_ref(message_id: uuid.UUID) -> str:
    """The id receivers see (``webhook-id``): ``msg_`` and 32 hex digits."""
    return MESSAGE_ID_PREFIX + message_id.hex


def parse_message_ref(ref: str) -> uuid.UUID | None:
    """The message id in a ``msg_…`` reference, or None when it is not one."""
    if not ref.startswith(MESSAGE_ID_PREFIX):
        return None
    try:
        return uuid.UUID(hex=ref.removeprefix(MESSAGE_ID_PREFIX))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a client receives webhooks (never its secret)."""

    id: uuid.UUID
    tenant: Tenant
    url: str
    description: str | None
    event_types: tuple[WebhookEventType, ...] | None  # None: every type that is not opt-in
    format: EndpointFormat
    enabled: bool
    disabled_reason: DisabledReason | None
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointSecrets:
    """An endpoint's sealed secrets: the current one and, during a rotation, the previous."""

    current: Sealed
    previous: Sealed | None
    previous_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, as stored: the payload every endpoint's body is built from."""

    id: uuid.UUID
    tenant: Tenant
    type: WebhookEventType
    payload: dict[str, Any]
    created_at: datetime

    @property
    def ref(self) -> str:
        """The ``webhook-id``."""
        return message_ref(self.id)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one endpoint: its status and schedule."""

    id: uuid.UUID
    tenant: Tenant
    message_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_type: WebhookEventType
    status: DeliveryStatus
    attempts: int
    round_start: int
    next_attempt_at: datetime | None  # None once it succeeded or failed
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: what was called, what it answered (the first 2 KB), how long it took."""

    attempt: int
    url: str
    status_code: int | None
    response_body: str | None
    error: str | None
    succeeded: bool
    started_at: datetime
    duration_ms: float


@dataclass(frozen=True, slots=True)
class EventLogEntry:
    """A message in the event log, with how its deliveries stand."""

    message: Message
    status: MessageStatus
    deliveries: tuple[tuple[uuid.UUID, uuid.UUID, DeliveryStatus], ...]  # (id, endpoint, status)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery just claimed for an attempt, with its message, endpoint and secrets."""

    delivery: Delivery
    message: Message
    endpoint: Endpoint
    secrets: EndpointSecrets


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt found, to be recorded with the delivery state that follows."""

    attempt: Attempt
    status: DeliveryStatus  # succeeded, failed, or pending (a retry at next_attempt_at)
    next_attempt_at: datetime | None
    disable: DisabledReason | None  # the endpoint must stop receiving (410)


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A partial update of an endpoint: only the fields named in ``given`` change."""

    given: frozenset[str]
    url: str | None = None
    description: str | None = None
    event_types: tuple[WebhookEventType, ...] | None = None
    format: EndpointFormat | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of trying to claim a delivery: claimed, or why not."""

    claimed: ClaimedDelivery | None = None
    # The endpoint already has as many deliveries in flight as allowed.
    busy: bool = False
    # Nothing was claimed, but a delivery of the endpoint is waiting (another claimer holds it).
    waiting: bool = False
