"""Endpoints in a seed product's format receive what that product's receivers expect: gocobalt's
event names, bodies and ``x-cobalt-signature``; Vital's ``provider.connection.*`` envelope with
the ``svix-*`` headers of its Svix sender."""

from __future__ import annotations

import hashlib
import hmac
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from standardwebhooks import Webhook

from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers import Api, eventually
from tests.webhook_fixtures import register
from tests.workflow_fixtures import (
    arranged,
    connect_sandbox,
    finished_executions,
    running_worker,
    send,
    worker_settings,
)


async def _requests(receiver: WebhookReceiver, path: str, count: int) -> list[Received]:
    async def found() -> list[Received]:
        return receiver.received(path)

    return await eventually(found, lambda r: len(r) >= count, timeout=15)


def _cobalt_signed(request: Received, secret: str) -> bool:
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-cobalt-signature"], expected)


async def test_gocobalt_receivers_get_gocobalt_webhooks(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    _, secret = await register(
        hooks,
        receiver.endpoint("cobalt"),
        format="gocobalt",
        event_types=[
            "connection.created",
            "connection.deleted",
            "execution.succeeded",
            "execution.failed",
        ],
    )
    async with running_worker(worker_settings(hooks)):
        connection_id, workflow_id = await arranged(hooks)
        (execution,) = await finished_executions(hooks, await send(hooks))
        await hooks.call("DELETE", f"/v1/connections/{connection_id}")
        requests = await _requests(receiver, "cobalt", 3)
    bodies: list[dict[str, Any]] = [orjson.loads(r.body) for r in requests]
    by_event = {b["event"]: b for b in bodies}
    assert sorted(by_event) == ["Connection Created", "Connection Deleted", "Workflow Completed"]
    created = by_event["Connection Created"]
    assert set(created) == {
        "linked_account_id",
        "org_id",
        "environment",
        "type",
        "event",
        "slug",
        "createdAt",
    }
    assert (created["linked_account_id"], created["slug"]) == ("user_12345", "sandbox")
    assert (created["type"], created["environment"]) == ("General", "test")
    assert created["org_id"] == str(hooks.tenant.client_id)
    assert created["createdAt"].endswith(" GMT")
    parsedate_to_datetime(created["createdAt"])  # "Tue, 07 Nov 2023 08:03:27 GMT"
    assert by_event["Connection Deleted"]["slug"] == "sandbox"
    assert by_event["Workflow Completed"] == {
        "linked_account_id": "user_12345",
        "instance_id": execution["id"],
        "workflow_id": workflow_id,
        "config_id": "default",
        "event": "Workflow Completed",
        "workflow_name": "Create the contact in the CRM",
        "status": "COMPLETED",
    }
    for request in requests:
        assert _cobalt_signed(request, secret)
        Webhook(secret).verify(request.body, request.headers)  # the standard headers too


async def test_gocobalt_names_expired_and_errored(hooks: Api, receiver: WebhookReceiver) -> None:
    await register(
        hooks,
        receiver.endpoint("cobalt"),
        format="gocobalt",
        event_types=["connection.needs_reauth", "execution.failed"],
    )
    connection_id, _ = await arranged(hooks)
    await hooks.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "revoked"})
    async with running_worker(worker_settings(hooks)):
        await finished_executions(hooks, await send(hooks))
        requests = await _requests(receiver, "cobalt", 2)
    by_event = {b["event"]: b for b in (orjson.loads(r.body) for r in requests)}
    assert by_event["Connection Expired"]["slug"] == "sandbox"
    assert "link_token" not in by_event["Connection Expired"]
    assert by_event["Workflow Errored"]["status"] == "ERRORED"


async def test_vital_receivers_get_provider_connection_events(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    _, secret = await register(hooks, receiver.endpoint("vital"), format="vital")
    connection_id, _ = await arranged(hooks)
    await hooks.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "revoked"})
    async with running_worker(worker_settings(hooks)):
        await finished_executions(hooks, await send(hooks))  # needs re-authorisation
        requests = await _requests(receiver, "vital", 2)
    created, error = (orjson.loads(r.body) for r in requests)
    assert created["event_type"] == "provider.connection.created"
    assert set(created) == {"event_type", "data", "user_id", "client_user_id", "team_id"}
    assert created["client_user_id"] == "user_12345"
    assert created["team_id"] == str(hooks.tenant.client_id)
    data = created["data"]
    assert data["user_id"] == created["user_id"]
    provider = {
        "name": "Sandbox CRM",
        "slug": "sandbox",
        "logo": str(hooks.http.make_url("/static/logos/sandbox.svg")),
    }
    assert (data["provider"], data["source"]) == (provider, provider)
    assert data["resource_availability"] == {}

    assert error["event_type"] == "provider.connection.error"
    assert error["user_id"] == created["user_id"]  # stable per linked account
    assert set(error["data"]) == {"provider", "user_id", "message", "error_type", "error_details"}
    assert error["data"]["provider"] == "sandbox"
    assert error["data"]["error_type"] in ("token_refresh_failed", "provider_credential_error")

    for request in requests:
        # Svix's headers carry what the standard ones do; Vital's verifier reads them.
        svix = {
            "webhook-id": request.headers["svix-id"],
            "webhook-timestamp": request.headers["svix-timestamp"],
            "webhook-signature": request.headers["svix-signature"],
        }
        Webhook(secret).verify(request.body, svix)
        assert request.headers["svix-id"] == request.headers["webhook-id"]


async def test_a_format_without_a_shape_for_a_type_is_not_sent_it(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("vital"), format="vital")  # default types
    await register(hooks, receiver.endpoint("standard"))
    async with running_worker(worker_settings(hooks)):
        connection_id = await connect_sandbox(hooks)
        await hooks.call("DELETE", f"/v1/connections/{connection_id}")
        await _requests(receiver, "standard", 2)
        await _requests(receiver, "vital", 1)
    assert len(receiver.received("vital")) == 1  # Vital has no "deleted" event
