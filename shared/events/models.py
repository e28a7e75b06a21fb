"""Events and their definitions as stored: the types the store returns and the service uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventStatus(StrEnum):
    """Where an event stands: waiting for its fan-out, or its executions created."""

    PENDING = "pending"
    FANNED_OUT = "fanned_out"


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """One version of an event definition."""

    name: str
    version: int
    schema: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be stored."""

    id: uuid.UUID
    name: str
    definition_version: int
    linked_account_id: str
    config_id: str | None
    payload: dict[str, Any]
    idempotency_key: str | None
    request_hash: bytes | None  # only with an idempotency key
    trace_context: str | None = None  # the ingest span's traceparent, while tracing is on


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """Where an insert left an event: its id, the request hash it is bound to, and whether it
    was created now (False: its idempotency key was used before)."""

    id: uuid.UUID
    request_hash: bytes | None
    created: bool


@dataclass(frozen=True, slots=True)
class Event:
    """An event as stored."""

    id: uuid.UUID
    name: str
    definition_version: int
    linked_account_id: str
    config_id: str | None
    payload: dict[str, Any]
    status: EventStatus
    created_at: datetime
