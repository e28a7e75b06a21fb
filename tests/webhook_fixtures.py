"""Arranging webhook tests: a tenant on a gateway that may call loopback with a short retry
schedule (the ``hooks`` fixture), endpoints registered on a fake receiver, announcements made
the way the product makes them, and polling a delivery until it settles."""

from __future__ import annotations

import uuid
from typing import Any

from services.gateway.appkeys import RESOURCES
from shared.clients import store as clients
from shared.config import Settings
from shared.infra import db
from shared.infra.outbound import parse_networks
from shared.webhooks import service as webhooks
from shared.webhooks.models import WebhookEventType
from tests.helpers import Api, AppFactory, eventually

# Typed values: make_client copies them into the settings without parsing.
WEBHOOK_SETTINGS: dict[str, Any] = {
    "outbound_allowed_networks": parse_networks("127.0.0.0/8"),
    "webhook_retry_schedule": (0.0, 0.05, 0.05, 0.05),
    "webhook_retry_jitter": 0.0,
    "webhook_timeout": 2.0,
}


async def webhook_tenant(make_client: AppFactory, pool: db.Pool) -> Api:
    """A tenant on a gateway whose webhooks may reach loopback, retried on a short schedule."""
    http = await make_client(**WEBHOOK_SETTINGS)
    issued = await clients.create_client(pool, name="Acme", environment="test")
    return await Api.for_credentials(http, pool, issued)


def settings_of(api: Api) -> Settings:
    """The settings of the gateway ``api`` calls."""
    return api.http.app[RESOURCES].settings


async def register(api: Api, url: str, **fields: Any) -> tuple[str, str]:
    """Register an endpoint: (its id, its secret)."""
    reply = await api.call("POST", "/v1/webhook-endpoints", {"url": url, **fields})
    assert reply.status == 201, reply.body
    return reply.body["id"], reply.body["secret"]


async def announce(
    api: Api, event_type: WebhookEventType = WebhookEventType.CONNECTION_DELETED, **data: Any
) -> list[uuid.UUID]:
    """Announce a notification for ``api``'s tenant as the product does; returns the deliveries."""
    resources = api.http.app[RESOURCES]
    payload = {
        "connection_id": str(uuid.uuid4()),
        "linked_account_id": "user_12345",
        "app": "sandbox",
        "status": "deleted",
        **data,
    }
    return await webhooks.announce(
        pool=resources.pool,
        redis=resources.redis,
        tenant=api.tenant,
        event_type=event_type,
        data=payload,
    )


async def delivery(api: Api, delivery_id: uuid.UUID | str) -> dict[str, Any]:
    """``GET /v1/webhook-deliveries/{id}``."""
    reply = await api.call("GET", f"/v1/webhook-deliveries/{delivery_id}")
    assert reply.status == 200, reply.body
    found: dict[str, Any] = reply.body
    return found


async def settled(api: Api, delivery_id: uuid.UUID | str, *, timeout: float = 15) -> dict[str, Any]:
    """Poll a delivery until it succeeded or failed for good."""
    return await eventually(
        lambda: delivery(api, delivery_id),
        lambda d: d["status"] in ("succeeded", "failed"),
        timeout=timeout,
    )
