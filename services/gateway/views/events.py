"""App events and their definitions: ``/v1/event-definitions``, ``/v1/events``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.errors import invalid, not_found
from shared.events import definitions as event_definitions
from shared.events import service as events
from shared.events import store
from shared.events.schemas import (
    EventAccepted,
    EventBatchAccepted,
    EventBatchCreate,
    EventCreate,
    EventDefinitionCreate,
    EventDefinitionRead,
    EventRead,
    ExecutionSummary,
)
from shared.executions import store as execution_store
from shared.schemas import Page

router = Router("events")


@router.route(
    "POST",
    "/v1/event-definitions",
    summary="Define an event (JSON Schema, or a sample payload); a changed schema is a new version",
    body=EventDefinitionCreate,
    response=EventDefinitionRead,
    status=201,
    also={200: "the same schema as the latest version: unchanged (changed is false)"},
)
async def save_event_definition(call: Call, body: EventDefinitionCreate) -> Reply:
    res = call.resources
    definition, changed = await event_definitions.save_definition(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        name=body.name,
        schema=body.schema_,
        sample=body.sample,
    )
    return Reply(EventDefinitionRead.of(definition, changed=changed), 201 if changed else 200)


@router.route(
    "GET",
    "/v1/event-definitions",
    summary="Every event definition (latest versions)",
    response=Page[EventDefinitionRead],
)
async def list_event_definitions(call: Call) -> Page[EventDefinitionRead]:
    found = await store.list_definitions(call.resources.pool, tenant=call.tenant)
    return Page[EventDefinitionRead](
        data=[EventDefinitionRead.of(d) for d in found], next_cursor=None
    )


@router.route(
    "GET",
    "/v1/event-definitions/{name}",
    summary="Every version of one event definition, newest first",
    response=Page[EventDefinitionRead],
)
async def get_event_definition(call: Call) -> Page[EventDefinitionRead]:
    versions = await store.definition_versions(
        call.resources.pool, tenant=call.tenant, name=call.path("name")
    )
    if not versions:
        raise not_found("event definition")
    return Page[EventDefinitionRead](
        data=[EventDefinitionRead.of(d) for d in versions], next_cursor=None
    )


def _idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key", "Idempotency-Key: must be 1 to 255 characters")
    return key


@router.route(
    "POST",
    "/v1/events",
    summary="Send an app event (committed before the reply; optional Idempotency-Key header)",
    body=EventCreate,
    response=EventAccepted,
    status=202,
)
async def send_event(call: Call, body: EventCreate) -> Reply:
    res = call.resources
    accepted, _ = await events.ingest(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        body=body,
        idempotency_key=_idempotency_key(call),
    )
    return Reply(accepted, 202)


@router.route(
    "POST",
    "/v1/events/batch",
    summary="Send up to 1,000 events in one transaction (all or none)",
    body=EventBatchCreate,
    response=EventBatchAccepted,
    status=202,
)
async def send_events(call: Call, body: EventBatchCreate) -> Reply:
    res = call.resources
    accepted = await events.ingest_batch(
        pool=res.pool, redis=res.redis, caches=res.caches, tenant=call.tenant, items=body.events
    )
    return Reply(accepted, 202)


@router.route(
    "GET",
    "/v1/events/{event_id}",
    summary="An event, its status and its executions",
    response=EventRead,
)
async def get_event(call: Call) -> EventRead:
    event_id = call.path_id("event_id", "event")
    event = await store.get_event(call.resources.pool, tenant=call.tenant, event_id=event_id)
    if event is None:
        raise not_found("event")
    executions = await execution_store.executions_of_event(call.resources.pool, event_id=event_id)
    return EventRead.of(
        event,
        [
            ExecutionSummary(id=str(e.id), workflow_id=str(e.workflow_id), status=e.status)
            for e in executions
        ],
    )
