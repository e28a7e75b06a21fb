"""Webhook endpoints through the API: registering, reading, changing, rotating, deleting; URLs
checked like every outbound call; event types; another tenant's objects are 404s."""

from __future__ import annotations

import base64

from shared.infra import db
from tests.helpers import Api
from tests.webhook_fixtures import register


async def test_register_read_change_and_delete_an_endpoint(acme: Api, pool: db.Pool) -> None:
    created = await acme.call(
        "POST",
        "/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/linkport", "description": "prod"},
    )
    assert created.status == 201, created.body
    endpoint = created.body
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["event_types"] is None  # every type that is not opt-in
    assert endpoint["format"] == "standard"
    assert endpoint["enabled"] is True
    stored = await pool.fetchval("SELECT secret FROM webhook_endpoints")
    assert base64.b64decode(endpoint["secret"].removeprefix("whsec_")) not in stored  # sealed

    read = await acme.call("GET", f"/v1/webhook-endpoints/{endpoint['id']}")
    assert read.status == 200
    assert "secret" not in read.body  # shown once
    assert read.body == {k: v for k, v in endpoint.items() if k != "secret"}

    changed = await acme.call(
        "PATCH",
        f"/v1/webhook-endpoints/{endpoint['id']}",
        {"event_types": ["connection.needs_reauth", "execution.succeeded"], "enabled": False},
    )
    assert changed.status == 200, changed.body
    assert changed.body["event_types"] == ["connection.needs_reauth", "execution.succeeded"]
    assert (changed.body["enabled"], changed.body["disabled_reason"]) == (False, "manual")
    assert changed.body["url"] == "https://hooks.example.com/linkport"  # untouched
    again = await acme.call(
        "PATCH", f"/v1/webhook-endpoints/{endpoint['id']}", {"enabled": True, "event_types": None}
    )
    assert (again.body["enabled"], again.body["disabled_reason"]) == (True, None)
    assert again.body["event_types"] is None

    listed = await acme.call("GET", "/v1/webhook-endpoints")
    assert [e["id"] for e in listed.body["data"]] == [endpoint["id"]]
    deleted = await acme.call("DELETE", f"/v1/webhook-endpoints/{endpoint['id']}")
    assert deleted.status == 200
    assert (await acme.call("GET", f"/v1/webhook-endpoints/{endpoint['id']}")).status == 404


async def test_urls_pass_the_outbound_check_when_saved(acme: Api) -> None:
    for url in (
        "http://127.0.0.1:8080/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/x",
        "http://2130706433/x",
        "http://[::ffff:127.0.0.1]/x",
    ):
        reply = await acme.call("POST", "/v1/webhook-endpoints", {"url": url})
        assert reply.status == 422, url
        assert reply.body["error"]["field"] == "url", url
    for url in ("ftp://example.com/x", "not a url", "https://example.com/#frag"):
        reply = await acme.call("POST", "/v1/webhook-endpoints", {"url": url})
        assert reply.status == 422, url
        assert reply.body["error"]["field"] == "url"
    endpoint_id, _ = await register(acme, "https://hooks.example.com/a")
    moved = await acme.call(
        "PATCH", f"/v1/webhook-endpoints/{endpoint_id}", {"url": "http://192.168.1.1/"}
    )
    assert moved.status == 422
    assert moved.body["error"]["field"] == "url"
    assert (await acme.call("GET", "/v1/webhook-endpoints")).body["data"][0]["url"] == (
        "https://hooks.example.com/a"
    )


async def test_bad_endpoint_input_is_a_422_naming_the_field(acme: Api) -> None:
    url = "https://hooks.example.com/x"
    for body, field in [
        ({"url": url, "event_types": ["connection.exploded"]}, "event_types.0"),
        ({"url": url, "event_types": []}, "event_types"),
        ({"url": url, "event_types": ["webhook.test"]}, "event_types.0"),
        ({"url": url, "format": "svix"}, "format"),
        ({"url": url, "format": "gocobalt", "event_types": ["event.rejected"]}, "event_types.0"),
        (
            {
                "url": url,
                "format": "vital",
                "event_types": ["connection.created", "execution.failed"],
            },
            "event_types.1",
        ),
        ({"url": url, "secret": "whsec_mine"}, "secret"),
        ({}, "url"),
    ]:
        reply = await acme.call("POST", "/v1/webhook-endpoints", body)
        assert reply.status == 422, body
        assert reply.body["error"]["field"] == field, (body, reply.body)
    endpoint_id, _ = await register(acme, url, format="vital")
    for body, field in [
        ({"url": None}, "url"),
        ({"format": "gocobalt", "event_types": ["event.rejected"]}, "event_types.0"),
        ({"event_types": ["execution.succeeded"]}, "event_types.0"),
    ]:
        reply = await acme.call("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", body)
        assert reply.status == 422, body
        assert reply.body["error"]["field"] == field, (body, reply.body)


async def test_event_types_are_listed_with_what_receives_them(acme: Api) -> None:
    reply = await acme.call("GET", "/v1/webhook-event-types")
    assert reply.status == 200
    types = {t["name"]: t for t in reply.body["data"]}
    assert list(types) == [
        "connection.created",
        "connection.updated",
        "connection.needs_reauth",
        "connection.deleted",
        "execution.succeeded",
        "execution.failed",
        "event.rejected",
    ]
    assert {name for name, t in types.items() if t["opt_in"]} == {
        "execution.succeeded",
        "event.rejected",
    }
    assert types["connection.created"]["formats"] == ["standard", "gocobalt", "vital", "emr"]
    assert types["event.rejected"]["formats"] == ["standard", "emr"]
    assert all(t["description"] for t in types.values())


async def test_rotating_gives_a_new_secret_and_keeps_the_old_one_for_the_overlap(
    acme: Api,
) -> None:
    endpoint_id, first = await register(acme, "https://hooks.example.com/r")
    rotated = await acme.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
    assert rotated.status == 200
    assert rotated.body["secret"].startswith("whsec_")
    assert rotated.body["secret"] != first
    assert rotated.body["previous_secret_expires_at"] is not None


async def test_another_tenants_webhooks_are_404s(acme: Api, globex: Api) -> None:
    endpoint_id, _ = await register(acme, "https://hooks.example.com/mine")
    for method, path in [
        ("GET", f"/v1/webhook-endpoints/{endpoint_id}"),
        ("PATCH", f"/v1/webhook-endpoints/{endpoint_id}"),
        ("DELETE", f"/v1/webhook-endpoints/{endpoint_id}"),
        ("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
        ("POST", f"/v1/webhook-endpoints/{endpoint_id}/test"),
        ("GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries"),
        ("GET", "/v1/webhook-endpoints/not-an-id"),
    ]:
        reply = await globex.call(method, path, {} if method == "PATCH" else None)
        assert reply.status == 404, (method, path, reply.body)
    assert (await globex.call("GET", "/v1/webhook-endpoints")).body["data"] == []
    sent = await acme.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")
    assert sent.status == 200
    delivery_id = sent.body["id"]
    assert (await globex.call("GET", f"/v1/webhook-deliveries/{delivery_id}")).status == 404
    assert (
        await globex.call("POST", f"/v1/webhook-deliveries/{delivery_id}/redeliver")
    ).status == 404
    assert (await globex.call("GET", "/v1/webhook-events")).body["data"] == []
    assert len((await acme.call("GET", "/v1/webhook-events")).body["data"]) == 1


async def test_session_tokens_cannot_manage_webhooks(acme: Api) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user_1"})
    issued = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "user_1"})
    reply = await acme.call(
        "GET",
        "/v1/webhook-endpoints",
        auth="none",
        headers={"Authorization": f"Bearer {issued.body['token']}"},
    )
    assert reply.status == 403
