"""Webhook rules: endpoints and their secrets, announcing what happened, redelivery.

Announcing is durable before it is fast: the message and one pending delivery per
subscribed endpoint are written in one statement, then their jobs are enqueued; when Redis
is down the sweeper enqueues them later. An announcement never raises: it runs after the
state change it reports has committed, and must not undo or disturb it (a failure is logged).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from arq.connections import ArqRedis
from redis.asyncio import Redis

from shared.connections.models import Connection
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.executions.models import Execution, ExecutionStatus
from shared.infra import queue
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import BlockedDestination, OutboundClient
from shared.tenancy import Tenant
from shared.webhooks import store
from shared.webhooks.envelopes import formats_for
from shared.webhooks.models import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointChanges,
    EndpointFormat,
    Message,
    WebhookEventType,
    new_message_id,
)
from shared.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from shared.webhooks.signing import new_secret, secret_text

log = structlog.get_logger(logger_name="linkport.webhooks")


def secret_binding(endpoint_id: uuid.UUID) -> str:
    """What an endpoint's sealed secrets are bound to (its row)."""
    return f"webhook-endpoint:{endpoint_id}"


def timestamp(at: datetime) -> str:
    """A payload timestamp: ISO 8601 in UTC with milliseconds, ``Z``-suffixed."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- endpoints ---------------------------------------------------------------------------


def _check_url(http: OutboundClient, url: str) -> None:
    try:
        http.check(url)
    except BlockedDestination as exc:
        raise invalid("url", f"url: {exc}") from None


def _check_types(
    format: EndpointFormat,
    event_types: list[WebhookEventType] | tuple[WebhookEventType, ...] | None,
) -> None:
    for position, event_type in enumerate(event_types or ()):
        if format not in formats_for(event_type):
            raise invalid(
                f"event_types.{position}",
                f"event_types.{position}: {format} endpoints have no shape for {event_type}",
            )


async def create_endpoint(
    *,
    pool: Pool,
    keyring: Keyring,
    http: OutboundClient,
    tenant: Tenant,
    request: WebhookEndpointCreate,
    secret: bytes | None = None,
) -> tuple[Endpoint, str]:
    """Register an endpoint (its URL must pass the outbound check); returns it and its
    secret, which is stored encrypted and shown only now. ``secret``: sign with this one
    (a face whose clients hold one secret for every URL) rather than a new one."""
    _check_url(http, request.url)
    _check_types(request.format, request.event_types)
    endpoint_id = uuid.uuid4()
    raw = secret or new_secret()
    endpoint = await store.create_endpoint(
        pool,
        endpoint_id=endpoint_id,
        tenant=tenant,
        url=request.url,
        description=request.description,
        event_types=request.event_types,
        format=request.format,
        secret=keyring.seal(raw, bound_to=secret_binding(endpoint_id)),
    )
    if not request.enabled:
        changed = await store.update_endpoint(
            pool,
            tenant=tenant,
            endpoint_id=endpoint_id,
            changes=EndpointChanges(frozenset({"enabled"}), enabled=False),
        )
        assert changed is not None
        endpoint = changed
    return endpoint, secret_text(raw)


async def require_endpoint(*, pool: Pool, tenant: Tenant, endpoint_id: uuid.UUID) -> Endpoint:
    """One of the tenant's endpoints; 404 otherwise."""
    endpoint = await store.get_endpoint(pool, tenant=tenant, endpoint_id=endpoint_id)
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


async def update_endpoint(
    *,
    pool: Pool,
    http: OutboundClient,
    tenant: Tenant,
    endpoint_id: uuid.UUID,
    request: WebhookEndpointUpdate,
) -> Endpoint:
    """Change the fields sent; a new URL passes the outbound check."""
    given = request.model_fields_set
    current = await require_endpoint(pool=pool, tenant=tenant, endpoint_id=endpoint_id)
    for name in ("url", "format", "enabled"):
        if name in given and getattr(request, name) is None:
            raise invalid(name, f"{name}: may not be null")
    if request.url is not None:
        _check_url(http, request.url)
    _check_types(
        request.format or current.format,
        request.event_types if "event_types" in given else current.event_types,
    )
    changes = EndpointChanges(
        frozenset(given),
        url=request.url,
        description=request.description,
        event_types=None if request.event_types is None else tuple(request.event_types),
        format=request.format,
        enabled=request.enabled,
    )
    updated = await store.update_endpoint(
        pool, tenant=tenant, endpoint_id=endpoint_id, changes=changes
    )
    if updated is None:
        raise not_found("webhook endpoint")
    return updated


async def current_secret(
    *, pool: Pool, keyring: Keyring, tenant: Tenant, endpoint_id: uuid.UUID
) -> bytes | None:
    """The endpoint's current signing secret (for a face whose clients may read it back)."""
    secrets = await store.endpoint_secrets(pool, tenant=tenant, endpoint_id=endpoint_id)
    if secrets is None:
        return None
    return keyring.open(secrets.current, bound_to=secret_binding(endpoint_id))


async def rotate_secret(
    *,
    pool: Pool,
    keyring: Keyring,
    overlap: float,
    tenant: Tenant,
    endpoint_id: uuid.UUID,
    secret: bytes | None = None,
) -> tuple[Endpoint, str]:
    """A new secret for the endpoint (returned once); the current one keeps signing beside it
    for ``overlap`` seconds, so receivers can switch without losing a message. ``secret``:
    this one rather than a new one."""
    raw = secret or new_secret()
    endpoint = await store.rotate_secret(
        pool,
        tenant=tenant,
        endpoint_id=endpoint_id,
        secret=keyring.seal(raw, bound_to=secret_binding(endpoint_id)),
        overlap=overlap,
    )
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint, secret_text(raw)


async def redeliver(
    *, pool: Pool, redis: ArqRedis, tenant: Tenant, delivery_id: uuid.UUID
) -> Delivery:
    """Send a delivery again now, with a new round of the retry schedule (also one that
    succeeded: the receiver may have lost it)."""
    reopened = await store.reopen_delivery(pool, tenant=tenant, delivery_id=delivery_id)
    if reopened is None:
        existing = await store.get_delivery(pool, tenant=tenant, delivery_id=delivery_id)
        if existing is None:
            raise not_found("webhook delivery")
        if existing.status is DeliveryStatus.SENDING:
            raise ApiError(ErrorCode.CONFLICT, "this delivery is being sent right now")
        raise ApiError(
            ErrorCode.CONFLICT, "the endpoint is disabled: enable it first (PATCH enabled: true)"
        )
    await queue.enqueue(redis, queue.webhook_job(reopened.id, reopened.attempts))
    return reopened


# --- announcing --------------------------------------------------------------------------


def new_message(tenant: Tenant, event_type: WebhookEventType, data: dict[str, Any]) -> Message:
    """A message about to be recorded: ``{type, timestamp, data}``."""
    now = datetime.now(UTC)
    payload = {"type": event_type.value, "timestamp": timestamp(now), "data": data}
    return Message(new_message_id(), tenant, event_type, payload, now)


async def announce(
    *,
    pool: Pool,
    redis: Redis | None,
    tenant: Tenant,
    event_type: WebhookEventType,
    data: dict[str, Any],
    dedupe_key: str | None = None,
) -> list[uuid.UUID]:
    """Record the message and its deliveries, then enqueue them (unless ``redis`` is not
    arq's client: then the sweeper does). Returns the deliveries created; never raises (see
    the module)."""
    message = new_message(tenant, event_type, data)
    try:
        delivery_ids = await store.insert_message(
            pool,
            message=message,
            opt_in=event_type.opt_in,
            formats=formats_for(event_type),
            dedupe_key=dedupe_key,
        )
        if isinstance(redis, ArqRedis) and delivery_ids:  # it knows the queue's name
            await queue.enqueue_many(redis, [queue.webhook_job(d, 0) for d in delivery_ids])
    except Exception:
        log.exception("webhook_announce_failed", type=event_type.value)
        return []
    return delivery_ids


def _connection_data(connection: Connection, status: str) -> dict[str, Any]:
    return {
        "connection_id": str(connection.id),
        "linked_account_id": connection.linked_account_id,
        "app": connection.app,
        "status": status,
    }


async def notify_connection_saved(
    *, pool: Pool, redis: Redis | None, connection: Connection
) -> None:
    """``connection.created``, or ``connection.updated`` when an existing connection was
    authorised again (a new row is written once: its created_at is its updated_at)."""
    created = connection.created_at == connection.updated_at
    await announce(
        pool=pool,
        redis=redis,
        tenant=connection.tenant,
        event_type=WebhookEventType.CONNECTION_CREATED
        if created
        else WebhookEventType.CONNECTION_UPDATED,
        data=_connection_data(connection, connection.status),
    )


async def notify_connection_deleted(
    *, pool: Pool, redis: Redis | None, connection: Connection
) -> None:
    """``connection.deleted``."""
    await announce(
        pool=pool,
        redis=redis,
        tenant=connection.tenant,
        event_type=WebhookEventType.CONNECTION_DELETED,
        data=_connection_data(connection, "deleted"),
    )


async def notify_needs_reauth(
    *,
    pool: Pool,
    redis: Redis | None,
    connection: Connection,
    reason: str,
    status: str = "needs_reauth",
) -> None:
    """``connection.needs_reauth`` (its update-mode link token is made when it is sent);
    ``status``: ``needs_reauth``, or ``revoked`` when the provider said the grant was revoked.
    Twenty executions finding the same connection refused announce it once: they loaded
    the same version of the connection, which names the message."""
    await announce(
        pool=pool,
        redis=redis,
        tenant=connection.tenant,
        event_type=WebhookEventType.CONNECTION_NEEDS_REAUTH,
        data={**_connection_data(connection, status), "reason": reason},
        dedupe_key=f"needs_reauth:{connection.id}:{connection.updated_at.isoformat()}",
    )


async def notify_execution_finished(
    *,
    pool: Pool,
    redis: Redis | None,
    execution: Execution,
    status: ExecutionStatus,
    error: dict[str, Any] | None,
) -> None:
    """``execution.succeeded`` (opt-in), or ``execution.failed`` for a final failure or a
    stop for re-authorisation (``status`` says which)."""
    data: dict[str, Any] = {
        "execution_id": str(execution.id),
        "event_id": str(execution.event_id),
        "workflow_id": str(execution.workflow_id),
        "linked_account_id": execution.linked_account_id,
        "connection_id": str(execution.connection_id),
        "config_id": str(execution.config_id) if execution.config_id else None,
        "status": status.value,
        # The kind of failure and the app's HTTP status, never its message or body.
        "error": {"kind": error.get("kind"), "status": error.get("status")} if error else None,
    }
    await announce(
        pool=pool,
        redis=redis,
        tenant=execution.tenant,
        event_type=WebhookEventType.EXECUTION_SUCCEEDED
        if status is ExecutionStatus.SUCCEEDED
        else WebhookEventType.EXECUTION_FAILED,
        data=data,
    )


async def notify_event_rejected(
    *,
    pool: Pool,
    redis: Redis | None,
    tenant: Tenant,
    event: str,
    linked_account_id: str,
    error: ApiError,
) -> None:
    """``event.rejected`` (opt-in): an app event was refused; what and why, not its payload."""
    await announce(
        pool=pool,
        redis=redis,
        tenant=tenant,
        event_type=WebhookEventType.EVENT_REJECTED,
        data={
            "event": event,
            "linked_account_id": linked_account_id,
            "error": {"code": error.code.value, "field": error.field},
        },
    )
