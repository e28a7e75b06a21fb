"""The gocobalt face's webhook routes (/api/v2/public/webhook): thin adapters over the native
webhooks, in gocobalt's shapes; endpoints made there receive gocobalt's bodies, signed in
``x-cobalt-signature``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import Api, Reply
from tests.workflow_fixtures import connect_sandbox, run_queued, worker_settings

API = "/api/v2/public"
ERROR_KEYS = {"status_code", "http_error_type", "error_code", "error", "message", "request_id"}
WEBHOOK_KEYS = {
    "_id",
    "org_id",
    "environment",
    "is_enabled",
    "webhook_events",
    "slug",
    "description",
    "workflow_ids",
    "webhook_url",
    "webhook_description",
    "webhook_body",
    "webhook_headers",
    "method",
    "group",
    "webhook_type",
    "createdAt",
    "updatedAt",
}


async def cobalt(api: Api, method: str, path: str, json: Any = None) -> Reply:
    """A call as gocobalt's backend clients make it, with ``x-api-key``."""
    return await api.call(
        method, API + path, json, auth="none", headers={"x-api-key": api.credentials.api_key}
    )


def assert_cobalt_error(reply: Reply, status: int, error_code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.body.keys() >= ERROR_KEYS, reply.body
    assert reply.body["error_code"] == error_code, reply.body


async def test_webhook_crud_round_trip(acme: Api) -> None:
    created = await cobalt(
        acme,
        "POST",
        "/webhook",
        {
            "webhook_url": "https://hooks.example.com/cobalt",
            "webhook_events": ["Connection Created", "Workflow Errored"],
            "description": "CRM sync",
            "method": "POST",
            "webhook_type": "default",
            "webhook_headers": {},
            "workflow_ids": [],
        },
    )
    assert created.status == 200, created.body
    hook = created.body
    assert set(hook) == WEBHOOK_KEYS
    assert "secret" not in hook
    assert hook["webhook_events"] == ["Connection Created", "Workflow Errored"]
    assert (hook["is_enabled"], hook["environment"]) == (True, "test")
    assert hook["org_id"] == str(acme.tenant.client_id)
    assert (hook["description"], hook["webhook_description"]) == ("CRM sync", "CRM sync")
    assert (hook["method"], hook["webhook_type"], hook["webhook_headers"]) == (
        "POST",
        "default",
        {},
    )
    # The native API sees it as a gocobalt-format endpoint on Linkport's types.
    native = await acme.call("GET", f"/v1/webhook-endpoints/{hook['_id']}")
    assert native.body["format"] == "gocobalt"
    assert sorted(native.body["event_types"]) == [
        "connection.created",
        "connection.updated",
        "execution.failed",
    ]

    listed = await cobalt(acme, "GET", "/webhook")
    assert listed.status == 200, listed.body
    assert [h["_id"] for h in listed.body] == [hook["_id"]]
    one = await cobalt(acme, "GET", f"/webhook/{hook['_id']}")
    assert one.body == hook

    updated = await cobalt(
        acme,
        "PUT",
        f"/webhook/{hook['_id']}",
        {"webhook_events": ["Connection Deleted"], "is_enabled": False},
    )
    assert updated.status == 200, updated.body
    assert updated.body["webhook_events"] == ["Connection Deleted"]
    assert updated.body["is_enabled"] is False
    assert updated.body["webhook_url"] == "https://hooks.example.com/cobalt"

    other = await cobalt(
        acme,
        "POST",
        "/webhook",
        {
            "webhook_url": "https://hooks.example.com/other",
            "webhook_events": ["Workflow Completed"],
        },
    )
    remaining = await cobalt(acme, "DELETE", f"/webhook/{hook['_id']}")
    assert remaining.status == 200, remaining.body
    assert [h["_id"] for h in remaining.body] == [other.body["_id"]]
    assert_cobalt_error(
        await cobalt(acme, "GET", f"/webhook/{hook['_id']}"), 404, "RESOURCE_NOT_FOUND"
    )


async def test_what_linkport_does_not_do_is_a_400(acme: Api) -> None:
    base = {"webhook_url": "https://hooks.example.com/x", "webhook_events": ["Connection Created"]}
    for field, value in (
        ("webhook_headers", {"X-Token": "t"}),
        ("webhook_body", {"text": "hi"}),
        ("method", "PUT"),
        ("webhook_type", "slack"),
        ("workflow_ids", ["wf_1"]),
    ):
        reply = await cobalt(acme, "POST", "/webhook", {**base, field: value})
        assert_cobalt_error(reply, 400, "SERVER_ERROR")
        assert reply.body["field"] == field
        assert "not supported" in reply.body["message"]
    unknown = await cobalt(acme, "POST", "/webhook", {**base, "webhook_events": ["Nope"]})
    assert_cobalt_error(unknown, 400, "SERVER_ERROR")
    assert "Connection Created" in unknown.body["message"]
    assert (await cobalt(acme, "GET", "/webhook")).body == []


async def test_another_tenants_webhook_is_a_404(acme: Api, globex: Api) -> None:
    created = await cobalt(
        acme,
        "POST",
        "/webhook",
        {"webhook_url": "https://hooks.example.com/a", "webhook_events": ["Connection Created"]},
    )
    hook_id = created.body["_id"]
    for method, body in (("GET", None), ("PUT", {"is_enabled": False}), ("DELETE", None)):
        assert_cobalt_error(
            await cobalt(globex, method, f"/webhook/{hook_id}", body), 404, "RESOURCE_NOT_FOUND"
        )
    assert (await cobalt(globex, "GET", "/webhook")).body == []
    assert (await cobalt(acme, "GET", f"/webhook/{hook_id}")).body["is_enabled"] is True


async def test_a_new_connection_is_delivered_signed(hooks: Api, receiver: WebhookReceiver) -> None:
    created = await cobalt(
        hooks,
        "POST",
        "/webhook",
        {"webhook_url": receiver.endpoint("cobalt"), "webhook_events": ["Connection Created"]},
    )
    assert created.status == 200, created.body
    # gocobalt answers no secret: the native API's rotate-secret shows the whsec_ one.
    rotated = await hooks.call("POST", f"/v1/webhook-endpoints/{created.body['_id']}/rotate-secret")
    secret = rotated.body["secret"]
    await connect_sandbox(hooks)
    await run_queued(worker_settings(hooks))
    (request,) = receiver.received("cobalt")
    body = orjson.loads(request.body)
    assert body["event"] == "Connection Created"
    assert (body["linked_account_id"], body["slug"]) == ("user_12345", "sandbox")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-cobalt-signature"], expected)
