"""What the product announces, from the places it happens: a connection made through Link,
authorised again, needing re-authorisation (with a link token that sends the user straight
back), deleted; an execution that succeeded or failed; an event refused."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from standardwebhooks import Webhook

from services.gateway.appkeys import RESOURCES
from shared.connections import store as connection_store
from shared.connections.credentials import mark_needs_reauth
from shared.infra import db
from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers import Api, eventually
from tests.link_browser import EMR_LINK, Browser, link_token, sign_in
from tests.webhook_fixtures import register
from tests.workflow_fixtures import (
    arranged,
    connect_sandbox,
    finished_executions,
    running_worker,
    send,
    worker_settings,
)


async def _bodies(receiver: WebhookReceiver, path: str, count: int) -> list[dict[str, Any]]:
    requests: list[Received] = await eventually(
        lambda: _received(receiver, path), lambda found: len(found) >= count, timeout=15
    )
    return [orjson.loads(r.body) for r in requests]


async def _received(receiver: WebhookReceiver, path: str) -> list[Received]:
    return receiver.received(path)


async def _reauthorise(api: Api, connection_id: str) -> None:
    """The user goes through Link again in update mode for that connection."""
    rotated = await api.call("POST", f"/v1/connections/{connection_id}/access-token/rotate")
    token = await link_token(api, {**EMR_LINK, "access_token": rotated.body["access_token"]})
    browser = Browser(str(api.http.make_url("/")))
    try:
        opened = await browser.get(f"/link?token={token}")
        app_page = await browser.get((await browser.get(opened.location or "")).location or "")
        to_provider = await browser.post(
            "/link/session/apps/sandbox",
            {"csrf": app_page.hidden_fields()["csrf"], "submitted": "1"},
        )
        login = await browser.get(to_provider.location or "")
        done = await browser.follow(await sign_in(browser, login))
        assert done.status == 200, done.text
    finally:
        await browser.close()


async def test_connections_made_reauthorised_and_deleted_are_announced(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    _, secret = await register(hooks, receiver.endpoint("hook"))
    async with running_worker(worker_settings(hooks)):
        connection_id = await connect_sandbox(hooks)
        (created,) = await _bodies(receiver, "hook", 1)
        assert created["type"] == "connection.created"
        assert created["data"] == {
            "connection_id": connection_id,
            "linked_account_id": "user_12345",
            "app": "sandbox",
            "status": "active",
        }
        await _reauthorise(hooks, connection_id)  # update mode: authorised anew
        _, updated = await _bodies(receiver, "hook", 2)
        assert updated["type"] == "connection.updated"
        assert updated["data"]["connection_id"] == connection_id
        another = await connect_sandbox(hooks)  # the same app again: one connection more
        *_, second = await _bodies(receiver, "hook", 3)
        assert second["type"] == "connection.created"
        assert second["data"]["connection_id"] == another != connection_id
        deleted = await hooks.call("DELETE", f"/v1/connections/{connection_id}")
        assert deleted.status == 200
        *_, gone = await _bodies(receiver, "hook", 4)
    assert gone["type"] == "connection.deleted"
    assert gone["data"] == {
        "connection_id": connection_id,
        "linked_account_id": "user_12345",
        "app": "sandbox",
        "status": "deleted",
    }
    for request in receiver.received("hook"):
        Webhook(secret).verify(request.body, request.headers)
        assert b"access_token" not in request.body
        assert b"sbx_" not in request.body


async def test_needs_reauth_carries_a_link_token_that_sends_the_user_back(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    await register(
        hooks,
        receiver.endpoint("hook"),
        event_types=["connection.needs_reauth", "connection.updated", "execution.failed"],
    )
    connection_id, _ = await arranged(hooks)
    await hooks.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "revoked"})
    async with running_worker(worker_settings(hooks)):
        (execution,) = await finished_executions(hooks, await send(hooks))
        assert execution["status"] == "needs_reauth"
        bodies = await _bodies(receiver, "hook", 2)
        by_type = {b["type"]: b for b in bodies}
        failed = by_type["execution.failed"]["data"]
        assert (failed["execution_id"], failed["status"]) == (execution["id"], "needs_reauth")
        assert failed["error"]["kind"] == "unauthorized"
        reauth = by_type["connection.needs_reauth"]["data"]
        assert reauth["connection_id"] == connection_id
        assert reauth["status"] == "needs_reauth"
        assert reauth["reason"]
        assert reauth["link_token"].startswith("lt_")
        assert reauth["link_url"].endswith(f"/link?token={reauth['link_token']}")
        # The event log never holds the token: it is made for each attempt.
        stored = await pool.fetchval(
            "SELECT payload FROM webhook_messages WHERE type = 'connection.needs_reauth'"
        )
        assert "link_token" not in stored["data"]

        # The product sends its user to the link: update mode, straight to the app.
        await hooks.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": None})
        browser = Browser(str(hooks.http.make_url("/")))
        try:
            opened = await browser.get(reauth["link_url"])
            session_page = await browser.get(opened.location or "")
            assert (session_page.location or "").endswith("/link/session/apps/sandbox")
            app_page = await browser.get(session_page.location or "")
            to_provider = await browser.post(
                "/link/session/apps/sandbox",
                {"csrf": app_page.hidden_fields()["csrf"], "submitted": "1"},
            )
            login = await browser.get(to_provider.location or "")
            done = await browser.follow(await sign_in(browser, login))
            assert done.status == 200
        finally:
            await browser.close()
        *_, updated = await _bodies(receiver, "hook", 3)
    assert updated["type"] == "connection.updated"
    assert (updated["data"]["connection_id"], updated["data"]["status"]) == (
        connection_id,
        "active",
    )


async def test_many_findings_of_one_refused_connection_announce_it_once(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    await register(hooks, receiver.endpoint("hook"), event_types=["connection.needs_reauth"])
    connection_id = await connect_sandbox(hooks)
    resources = hooks.http.app[RESOURCES]
    loaded = await connection_store.get_connection(
        resources.pool, tenant=hooks.tenant, connection_id=uuid.UUID(connection_id)
    )
    assert loaded is not None
    for _ in range(5):  # five executions that loaded the same active connection
        await mark_needs_reauth(resources.pool, connection=loaded, reason="the app answered 401")
    assert await pool.fetchval("SELECT count(*) FROM webhook_messages") == 1
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 1


async def test_executions_are_announced_when_they_finish(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("hook"), event_types=["execution.succeeded"])
    _, workflow_id = await arranged(hooks)
    async with running_worker(worker_settings(hooks)):
        event_id = await send(hooks)
        (execution,) = await finished_executions(hooks, event_id)
        (succeeded,) = await _bodies(receiver, "hook", 1)
    assert succeeded["type"] == "execution.succeeded"
    data = succeeded["data"]
    assert data["execution_id"] == execution["id"]
    assert (data["event_id"], data["workflow_id"]) == (event_id, workflow_id)
    assert (data["status"], data["error"]) == ("succeeded", None)
    assert data["linked_account_id"] == "user_12345"


async def test_a_refused_event_is_announced_to_those_who_ask(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("hook"), event_types=["event.rejected"])
    async with running_worker(worker_settings(hooks)):
        refused = await hooks.call(
            "POST",
            "/v1/events",
            {"event": "no.such.event", "linked_account_id": "user_12345", "payload": {"a": 1}},
        )
        assert refused.status == 404
        (rejected,) = await _bodies(receiver, "hook", 1)
    assert rejected["type"] == "event.rejected"
    assert rejected["data"] == {
        "event": "no.such.event",
        "linked_account_id": "user_12345",
        "error": {"code": "not_found", "field": "event"},
    }
