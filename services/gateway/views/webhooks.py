"""Webhooks to your backend: ``/v1/webhook-endpoints``, ``/v1/webhook-deliveries``,
``/v1/webhook-events`` (the event log) and ``/v1/webhook-event-types``."""

from __future__ import annotations

import uuid

from services.gateway.endpoints import Call, Reply, Router
from shared.errors import invalid, not_found
from shared.schemas import Deleted, Page, PageQuery
from shared.webhooks import delivery, service, store
from shared.webhooks.models import SUBSCRIBABLE, Delivery
from shared.webhooks.schemas import (
    WebhookDeliveryQuery,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
    WebhookEventQuery,
    WebhookEventRead,
    WebhookEventTypeRead,
    WebhookSecretRotated,
)

router = Router("webhooks")


@router.route(
    "GET",
    "/v1/webhook-event-types",
    summary="The event types an endpoint can subscribe to (opt-in ones only when named)",
    response=Page[WebhookEventTypeRead],
)
async def list_webhook_event_types(call: Call) -> Page[WebhookEventTypeRead]:
    return Page[WebhookEventTypeRead](
        data=[WebhookEventTypeRead.of(t) for t in SUBSCRIBABLE], next_cursor=None
    )


@router.route(
    "POST",
    "/v1/webhook-endpoints",
    summary="Register a webhook endpoint; the answer carries its whsec_ signing secret, once",
    body=WebhookEndpointCreate,
    response=WebhookEndpointCreated,
    status=201,
)
async def create_webhook_endpoint(call: Call, body: WebhookEndpointCreate) -> Reply:
    res = call.resources
    endpoint, secret = await service.create_endpoint(
        pool=res.pool, keyring=res.keyring, http=res.http, tenant=call.tenant, request=body
    )
    read = WebhookEndpointRead.of(endpoint)
    return Reply(WebhookEndpointCreated(**read.model_dump(), secret=secret), 201)


@router.route(
    "GET",
    "/v1/webhook-endpoints",
    summary="Webhook endpoints, ordered by id",
    query=PageQuery,
    response=Page[WebhookEndpointRead],
)
async def list_webhook_endpoints(call: Call, query: PageQuery) -> Page[WebhookEndpointRead]:
    items, next_cursor = await store.list_endpoints(
        call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
    )
    return Page[WebhookEndpointRead](
        data=[WebhookEndpointRead.of(e) for e in items], next_cursor=next_cursor
    )


@router.route(
    "GET",
    "/v1/webhook-endpoints/{endpoint_id}",
    summary="One webhook endpoint: whether it is enabled, and why not (410, days of failures)",
    response=WebhookEndpointRead,
)
async def get_webhook_endpoint(call: Call) -> WebhookEndpointRead:
    endpoint = await service.require_endpoint(
        pool=call.resources.pool, tenant=call.tenant, endpoint_id=_endpoint_id(call)
    )
    return WebhookEndpointRead.of(endpoint)


@router.route(
    "PATCH",
    "/v1/webhook-endpoints/{endpoint_id}",
    summary="Change an endpoint's URL, event types, format, description; enable or disable it",
    body=WebhookEndpointUpdate,
    response=WebhookEndpointRead,
)
async def update_webhook_endpoint(call: Call, body: WebhookEndpointUpdate) -> WebhookEndpointRead:
    res = call.resources
    endpoint = await service.update_endpoint(
        pool=res.pool,
        http=res.http,
        tenant=call.tenant,
        endpoint_id=_endpoint_id(call),
        request=body,
    )
    return WebhookEndpointRead.of(endpoint)


@router.route(
    "DELETE",
    "/v1/webhook-endpoints/{endpoint_id}",
    summary="Delete an endpoint and its deliveries (the event log keeps the messages)",
    response=Deleted,
)
async def delete_webhook_endpoint(call: Call) -> Deleted:
    deleted = await store.delete_endpoint(
        call.resources.pool, tenant=call.tenant, endpoint_id=_endpoint_id(call)
    )
    if not deleted:
        raise not_found("webhook endpoint")
    return Deleted()


@router.route(
    "POST",
    "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
    summary="A new signing secret (shown once); the old one also signs for LINKPORT_WEBHOOK_SECRET_OVERLAP seconds",
    response=WebhookSecretRotated,
)
async def rotate_webhook_secret(call: Call) -> WebhookSecretRotated:
    res = call.resources
    endpoint, secret = await service.rotate_secret(
        pool=res.pool,
        keyring=res.keyring,
        overlap=res.settings.webhook_secret_overlap,
        tenant=call.tenant,
        endpoint_id=_endpoint_id(call),
    )
    return WebhookSecretRotated(**WebhookEndpointRead.of(endpoint).model_dump(), secret=secret)


@router.route(
    "POST",
    "/v1/webhook-endpoints/{endpoint_id}/test",
    summary="Send the endpoint a signed webhook.test message now; answers with the attempt",
    response=WebhookDeliveryRead,
)
async def test_webhook_endpoint(call: Call) -> WebhookDeliveryRead:
    endpoint = await service.require_endpoint(
        pool=call.resources.pool, tenant=call.tenant, endpoint_id=_endpoint_id(call)
    )
    sent = await delivery.send_test(call.resources, tenant=call.tenant, endpoint_id=endpoint.id)
    return await _with_attempts(call, sent)


@router.route(
    "GET",
    "/v1/webhook-endpoints/{endpoint_id}/deliveries",
    summary="An endpoint's deliveries, oldest first (filter by status)",
    query=WebhookDeliveryQuery,
    response=Page[WebhookDeliveryRead],
)
async def list_webhook_deliveries(
    call: Call, query: WebhookDeliveryQuery
) -> Page[WebhookDeliveryRead]:
    endpoint = await service.require_endpoint(
        pool=call.resources.pool, tenant=call.tenant, endpoint_id=_endpoint_id(call)
    )
    items, next_cursor = await store.list_deliveries(
        call.resources.pool,
        tenant=call.tenant,
        endpoint_id=endpoint.id,
        status=query.status,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
    )
    return Page[WebhookDeliveryRead](
        data=[WebhookDeliveryRead.of(d) for d in items], next_cursor=next_cursor
    )


@router.route(
    "GET",
    "/v1/webhook-deliveries/{delivery_id}",
    summary="One delivery with its payload and every attempt (status, duration, the reply's first 2 KB)",
    response=WebhookDeliveryRead,
)
async def get_webhook_delivery(call: Call) -> WebhookDeliveryRead:
    found = await store.get_delivery(
        call.resources.pool, tenant=call.tenant, delivery_id=_delivery_id(call)
    )
    if found is None:
        raise not_found("webhook delivery")
    return await _with_attempts(call, found)


@router.route(
    "POST",
    "/v1/webhook-deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again now, with a fresh retry schedule",
    response=WebhookDeliveryRead,
    status=202,
)
async def redeliver_webhook(call: Call) -> Reply:
    res = call.resources
    reopened = await service.redeliver(
        pool=res.pool, redis=res.redis, tenant=call.tenant, delivery_id=_delivery_id(call)
    )
    return Reply(await _with_attempts(call, reopened), 202)


@router.route(
    "GET",
    "/v1/webhook-events",
    summary="The event log: every message sent, oldest first, filtered by type, status and time",
    query=WebhookEventQuery,
    response=Page[WebhookEventRead],
)
async def list_webhook_events(call: Call, query: WebhookEventQuery) -> Page[WebhookEventRead]:
    endpoint_id = None
    if query.endpoint_id is not None:
        try:
            endpoint_id = uuid.UUID(query.endpoint_id)
        except ValueError:
            raise invalid("endpoint_id", "endpoint_id: not an id") from None
    items, next_cursor = await store.list_messages(
        call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
        event_type=query.type,
        status=query.status,
        since=query.since,
        until=query.until,
        endpoint_id=endpoint_id,
    )
    return Page[WebhookEventRead](
        data=[WebhookEventRead.of(e) for e in items], next_cursor=next_cursor
    )


def _endpoint_id(call: Call) -> uuid.UUID:
    return call.path_id("endpoint_id", "webhook endpoint")


def _delivery_id(call: Call) -> uuid.UUID:
    return call.path_id("delivery_id", "webhook delivery")


async def _with_attempts(call: Call, found: Delivery) -> WebhookDeliveryRead:
    pool = call.resources.pool
    message = await store.get_message(pool, tenant=call.tenant, message_id=found.message_id)
    attempts = await store.delivery_attempts(pool, delivery_id=found.id)
    return WebhookDeliveryRead.of(
        found, payload=message.payload if message else None, attempts=attempts
    )
