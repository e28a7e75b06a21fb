"""Accepting app events: validated, committed to Postgres, then (best effort) enqueued."""

from __future__ import annotations

import hashlib
import os
import uuid

import orjson
import structlog
from arq.connections import ArqRedis

from shared.accounts import service as accounts
from shared.caches import Caches
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.events import definitions as event_definitions
from shared.events import store
from shared.events.models import EventDefinition, EventStatus, NewEvent
from shared.events.schemas import BatchEventCreate, EventAccepted, EventBatchAccepted, EventCreate
from shared.infra import metrics, tracing
from shared.infra import queue as jobs
from shared.infra.db import Pool
from shared.infra.logs import ACCEPTED_EVENT
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks

log = structlog.get_logger(logger_name="linkport.events")


def _request_hash(body: EventCreate) -> bytes:
    """What an Idempotency-Key is bound to: a reuse with a different request is a conflict."""
    canonical = orjson.dumps(
        [body.event, body.linked_account_id, body.config_id, body.payload],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).digest()


# uuid4 from one os.urandom call for a whole batch: version 4, RFC 4122 variant.
_V4_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_BITS = (0x4000 << 64) | (0x8000 << 48)


def _new_ids(count: int) -> list[uuid.UUID]:
    """``count`` random (version 4) UUIDs; about a third of the cost of calling uuid4 each time."""
    raw = os.urandom(16 * count)
    return [
        uuid.UUID(int=(int.from_bytes(raw[i : i + 16], "big") & _V4_MASK) | _V4_BITS)
        for i in range(0, 16 * count, 16)
    ]


class _Checker:
    """Checks events against their definitions and accounts, looking each name and account up
    once: a batch of a thousand events usually names a few."""

    def __init__(self, *, pool: Pool, caches: Caches, tenant: Tenant) -> None:
        self._pool, self._caches, self._tenant = pool, caches, tenant
        self._definitions: dict[str, EventDefinition] = {}
        self._accounts: set[str] = set()

    async def check(
        self, body: EventCreate, *, event_id: uuid.UUID, key: str | None, prefix: str
    ) -> NewEvent:
        """The event to store, or the 404/422 naming the first problem (``prefix``: its place);
        a refusal is announced to the client's webhooks (``event.rejected``)."""
        try:
            return await self._check(body, event_id=event_id, key=key, prefix=prefix)
        except ApiError as exc:
            await webhooks.notify_event_rejected(
                pool=self._pool,
                redis=None,
                tenant=self._tenant,
                event=body.event,
                linked_account_id=body.linked_account_id,
                error=exc,
            )
            raise

    async def _check(
        self, body: EventCreate, *, event_id: uuid.UUID, key: str | None, prefix: str
    ) -> NewEvent:
        definition = self._definitions.get(body.event)
        if definition is None:
            definition = self._definitions[body.event] = await event_definitions.latest(
                pool=self._pool,
                caches=self._caches,
                tenant=self._tenant,
                name=body.event,
                field=f"{prefix}event",
            )
        if body.linked_account_id not in self._accounts:
            found = await accounts.find_account(
                pool=self._pool,
                caches=self._caches,
                tenant=self._tenant,
                linked_account_id=body.linked_account_id,
            )
            if found is None:
                raise not_found("linked account", field=f"{prefix}linked_account_id")
            self._accounts.add(body.linked_account_id)
        problem = event_definitions.payload_problem(self._tenant, definition, body.payload)
        if problem is not None:
            path, message = problem
            raise invalid(prefix + path, f"{prefix}{path}: {message}")
        return NewEvent(
            id=event_id,
            name=body.event,
            definition_version=definition.version,
            linked_account_id=body.linked_account_id,
            config_id=body.config_id,
            payload=body.payload,
            idempotency_key=key,
            request_hash=_request_hash(body) if key is not None else None,
            trace_context=tracing.current_traceparent(),  # the trace goes on from this row
        )


async def ingest(
    *,
    pool: Pool,
    redis: ArqRedis,
    caches: Caches,
    tenant: Tenant,
    body: EventCreate,
    idempotency_key: str | None,
) -> tuple[EventAccepted, bool]:
    """Store one event (durable before the reply) and enqueue its fan-out: (reply, created)."""
    event = await _Checker(pool=pool, caches=caches, tenant=tenant).check(
        body, event_id=uuid.uuid4(), key=idempotency_key, prefix=""
    )
    stored = await store.insert_event(pool, tenant=tenant, event=event)
    if not stored.created and stored.request_hash != event.request_hash:
        raise ApiError(
            ErrorCode.CONFLICT,
            "this Idempotency-Key was used for a different event",
            field="Idempotency-Key",
        )
    if stored.created:
        metrics.EVENTS_ACCEPTED.inc()
        await jobs.enqueue(redis, jobs.fan_out_jobs([stored.id])[0])
    # The request's access line names the event: the link from its request id to the event's.
    ACCEPTED_EVENT.set(str(stored.id))
    return EventAccepted(event_id=str(stored.id), status=EventStatus.PENDING), stored.created


async def ingest_batch(
    *, pool: Pool, redis: ArqRedis, caches: Caches, tenant: Tenant, items: list[BatchEventCreate]
) -> EventBatchAccepted:
    """Store up to 1,000 events in one transaction: all of them, or (on any error) none."""
    keys = [item.idempotency_key for item in items if item.idempotency_key]
    if len(keys) != len(set(keys)):
        raise invalid("events", "events: idempotency_key values must differ within a batch")
    checker = _Checker(pool=pool, caches=caches, tenant=tenant)
    prepared = [
        await checker.check(
            item, event_id=event_id, key=item.idempotency_key, prefix=f"events.{i}."
        )
        for i, (item, event_id) in enumerate(zip(items, _new_ids(len(items)), strict=True))
    ]
    stored = await store.insert_events(pool, tenant=tenant, events=prepared)
    created = [event_id for event_id, is_new in stored if is_new]
    metrics.EVENTS_ACCEPTED.inc(len(created))
    log.info("events_accepted", count=len(stored), created=len(created))
    await jobs.enqueue_many(redis, jobs.fan_out_jobs(created))
    # One validation of plain data, not a thousand model constructions.
    pending = EventStatus.PENDING.value
    return EventBatchAccepted.model_validate(
        {"data": [{"event_id": str(event_id), "status": pending} for event_id, _ in stored]}
    )
