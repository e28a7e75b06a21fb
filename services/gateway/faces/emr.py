"""The EMR API's webhook registration (docs.usecobalt.com, "Webhooks → Setup"): ``POST``,
``GET`` and ``DELETE /v1/webhook`` and ``POST /v1/webhook/rotate-secret``, authenticated like
its other routes (``client_id`` and ``client_secret`` headers).

Thin adapters over the native webhooks: endpoints made here have format ``emr`` (the EMR API's
body and ``cobalt-verification`` signature, see ``shared/webhooks/envelopes.py``) and receive
every event type that is not opt-in. That API keeps one signing secret per client for all
its URLs, so every
``emr`` endpoint of a tenant signs with the same secret: a new URL takes the current one, and
a rotation gives all of them the new one (the old keeps signing beside it for the overlap).
"""

from __future__ import annotations

import uuid

from pydantic import Field

from services.gateway.endpoints import Call, Router
from shared.errors import not_found
from shared.schemas import RequestModel, ResponseModel
from shared.webhooks import service as webhooks
from shared.webhooks import store as webhook_store
from shared.webhooks.models import Endpoint, EndpointFormat
from shared.webhooks.schemas import WebhookEndpointCreate
from shared.webhooks.signing import new_secret, secret_text

router = Router("EMR webhooks")


class EmrWebhookCreate(RequestModel):
    """The URL to send events to."""

    webhook_url: str = Field(min_length=1, max_length=2048)


class EmrWebhookCreated(ResponseModel):
    """A registered URL and the client's signing secret (the same for every URL)."""

    success: bool = True
    message: str = "Webhook registered successfully"
    webhook_id: str
    webhook_url: str
    webhook_secret: str
    webhook_secret_key: str = Field(description="the same secret (the setup guide's name)")


class EmrWebhookUrl(ResponseModel):
    """One registered URL."""

    id: str
    url: str


class EmrWebhookConfig(ResponseModel):
    """The client's webhook configuration."""

    success: bool = True
    webhook_url: str | None = Field(description="the most recently registered URL")
    webhook_urls: list[EmrWebhookUrl]
    webhook_secret_key: str | None


class EmrWebhookRemoved(ResponseModel):
    """What DELETE answers."""

    success: bool = True
    message: str = "Webhook URL removed successfully"


class EmrSecretRotated(ResponseModel):
    """The new secret (the previous one keeps signing beside it for the overlap)."""

    success: bool = True
    message: str = "Webhook secret rotated successfully"
    webhook_secret_key: str


async def _emr_endpoints(call: Call) -> list[Endpoint]:
    """The tenant's emr-format endpoints, newest first."""
    found: list[Endpoint] = []
    cursor: str | None = None
    while True:
        page, cursor = await webhook_store.list_endpoints(
            call.resources.pool, tenant=call.tenant, limit=100, cursor=cursor
        )
        found += [e for e in page if e.format is EndpointFormat.EMR]
        if cursor is None:
            return sorted(found, key=lambda e: e.created_at, reverse=True)


async def _shared_secret(call: Call, endpoints: list[Endpoint]) -> bytes | None:
    if not endpoints:
        return None
    res = call.resources
    return await webhooks.current_secret(
        pool=res.pool, keyring=res.keyring, tenant=call.tenant, endpoint_id=endpoints[0].id
    )


@router.route(
    "POST",
    "/v1/webhook",
    summary="Register a webhook URL (EMR API shape): every event, signed in cobalt-verification",
    body=EmrWebhookCreate,
    response=EmrWebhookCreated,
)
async def emr_create_webhook(call: Call, body: EmrWebhookCreate) -> EmrWebhookCreated:
    res = call.resources
    shared = await _shared_secret(call, await _emr_endpoints(call))
    request = WebhookEndpointCreate.model_validate(
        {
            "url": body.webhook_url,
            "event_types": None,  # every type that is not opt-in
            "format": EndpointFormat.EMR,
        }
    )
    endpoint, secret = await webhooks.create_endpoint(
        pool=res.pool,
        keyring=res.keyring,
        http=res.http,
        tenant=call.tenant,
        request=request,
        secret=shared,
    )
    return EmrWebhookCreated(
        webhook_id=str(endpoint.id),
        webhook_url=endpoint.url,
        webhook_secret=secret,
        webhook_secret_key=secret,
    )


@router.route(
    "GET",
    "/v1/webhook",
    summary="The webhook configuration (EMR API shape): every URL and the signing secret",
    response=EmrWebhookConfig,
)
async def emr_get_webhooks(call: Call) -> EmrWebhookConfig:
    endpoints = await _emr_endpoints(call)
    shared = await _shared_secret(call, endpoints)
    return EmrWebhookConfig(
        webhook_url=endpoints[0].url if endpoints else None,
        webhook_urls=[EmrWebhookUrl(id=str(e.id), url=e.url) for e in endpoints],
        webhook_secret_key=None if shared is None else secret_text(shared),
    )


@router.route(
    "DELETE",
    "/v1/webhook/{id}",
    summary="Remove a webhook URL (EMR API shape)",
    response=EmrWebhookRemoved,
)
async def emr_delete_webhook(call: Call) -> EmrWebhookRemoved:
    endpoint_id: uuid.UUID = call.path_id("id", "webhook")
    endpoint = await webhook_store.get_endpoint(
        call.resources.pool, tenant=call.tenant, endpoint_id=endpoint_id
    )
    if endpoint is None or endpoint.format is not EndpointFormat.EMR:
        raise not_found("webhook")
    if not await webhook_store.delete_endpoint(
        call.resources.pool, tenant=call.tenant, endpoint_id=endpoint_id
    ):
        raise not_found("webhook")
    return EmrWebhookRemoved()


@router.route(
    "POST",
    "/v1/webhook/rotate-secret",
    summary="Rotate the signing secret of every webhook URL (EMR API shape)",
    response=EmrSecretRotated,
)
async def emr_rotate_secret(call: Call) -> EmrSecretRotated:
    endpoints = await _emr_endpoints(call)
    if not endpoints:
        raise not_found("webhook")
    res = call.resources
    raw = new_secret()
    for endpoint in endpoints:
        await webhooks.rotate_secret(
            pool=res.pool,
            keyring=res.keyring,
            overlap=res.settings.webhook_secret_overlap,
            tenant=call.tenant,
            endpoint_id=endpoint.id,
            secret=raw,
        )
    return EmrSecretRotated(webhook_secret_key=secret_text(raw))
