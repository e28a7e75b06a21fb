"""Accepting app events: validated, committed to Postgres, then (best effort) enqueued."""

from __future__ import annotations

import hashlib
import uuid

import orjson

from shared import accounts, event_definitions, jobs
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.models.events import BatchEventCreate, EventAccepted, EventCreate
from shared.resources import Resources
from shared.stores import events as store
from shared.stores.events import Definition, NewEvent
from shared.tenancy import Tenant


def _request_hash(body: EventCreate) -> bytes:
    canonical = orjson.dumps(
        [body.event, body.linked_account_id, body.config_id, body.payload],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).digest()


async def _prepare(
    res: Resources,
    *,
    tenant: Tenant,
    body: EventCreate,
    key: str | None,
    definitions: dict[str, Definition],
    prefix: str,
) -> NewEvent:
    definition = definitions.get(body.event)
    if definition is None:
        definition = definitions[body.event] = await event_definitions.latest(
            res, tenant=tenant, name=body.event, field=f"{prefix}event"
        )
    if (
        await accounts.find_account(res, tenant=tenant, linked_account_id=body.linked_account_id)
        is None
    ):
        raise not_found("linked account", field=f"{prefix}linked_account_id")
    problem = event_definitions.payload_problem(tenant, definition, body.payload)
    if problem is not None:
        path, message = problem
        raise invalid(prefix + path, f"{prefix}{path}: {message}")
    return NewEvent(
        id=uuid.uuid4(),
        name=body.event,
        definition_version=definition.version,
        linked_account_id=body.linked_account_id,
        config_id=body.config_id,
        payload=body.payload,
        idempotency_key=key,
        request_hash=_request_hash(body),
    )


async def ingest(
    res: Resources, *, tenant: Tenant, body: EventCreate, idempotency_key: str | None
) -> tuple[EventAccepted, bool]:
    """Store one event (durable before the reply) and enqueue its fan-out: (reply, created)."""
    event = await _prepare(
        res, tenant=tenant, body=body, key=idempotency_key, definitions={}, prefix=""
    )
    event_id, stored_hash, created = await store.insert_event(res.pool, tenant=tenant, event=event)
    if not created and stored_hash != event.request_hash:
        raise ApiError(
            ErrorCode.CONFLICT,
            "this Idempotency-Key was used for a different event",
            field="Idempotency-Key",
        )
    if created:
        await jobs.enqueue(res.redis, jobs.fan_out_jobs([event_id])[0])
    return EventAccepted(event_id=str(event_id), status="pending"), created


async def ingest_batch(
    res: Resources, *, tenant: Tenant, items: list[BatchEventCreate]
) -> list[EventAccepted]:
    """Store up to 1,000 events in one transaction: all of them, or (on any error) none."""
    keys = [item.idempotency_key for item in items if item.idempotency_key]
    if len(keys) != len(set(keys)):
        raise invalid("events", "events: idempotency_key values must differ within a batch")
    definitions: dict[str, Definition] = {}
    prepared = [
        await _prepare(
            res,
            tenant=tenant,
            body=item,
            key=item.idempotency_key,
            definitions=definitions,
            prefix=f"events.{i}.",
        )
        for i, item in enumerate(items)
    ]
    stored = await store.insert_events(res.pool, tenant=tenant, events=prepared)
    created = [event_id for event_id, is_new in stored if is_new]
    await jobs.enqueue_many(res.redis, jobs.fan_out_jobs(created))
    return [EventAccepted(event_id=str(event_id), status="pending") for event_id, _ in stored]
