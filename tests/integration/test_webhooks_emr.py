"""The EMR API's webhook face: ``/v1/webhook`` registers URLs that receive that API's body and
headers, ``cobalt-verification`` being the hex HMAC-SHA256 of the JSON body keyed with the one
secret the client holds for all its URLs (checked here the way that API's guide checks it:
over ``JSON.stringify`` of the parsed body)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import orjson

from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.helpers import Api, eventually
from tests.workflow_fixtures import arranged, running_worker, worker_settings


def _verified(request: Received, secret: str) -> bool:
    # The guide's receiver: HMAC over JSON.stringify(req.body), i.e. compact JSON, no escaping
    # of non-ASCII characters, keys in the order they came.
    stringified = json.dumps(
        json.loads(request.body), separators=(",", ":"), ensure_ascii=False
    ).encode()
    expected = hmac.new(secret.encode(), stringified, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["cobalt-verification"], expected)


async def _requests(receiver: WebhookReceiver, path: str, count: int) -> list[Received]:
    async def found() -> list[Received]:
        return receiver.received(path)

    return await eventually(found, lambda r: len(r) >= count, timeout=15)


async def test_registered_urls_share_one_secret_and_are_listed(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    first = await hooks.call("POST", "/v1/webhook", {"webhook_url": receiver.endpoint("a")})
    assert first.status == 200, first.body
    assert first.body["success"] is True
    assert first.body["webhook_secret"].startswith("whsec_")
    assert first.body["webhook_secret_key"] == first.body["webhook_secret"]
    second = await hooks.call("POST", "/v1/webhook", {"webhook_url": receiver.endpoint("b")})
    assert second.body["webhook_secret"] == first.body["webhook_secret"]  # one per client

    config = await hooks.call("GET", "/v1/webhook")
    assert config.status == 200
    assert config.body["webhook_url"] == receiver.endpoint("b")  # the newest
    assert {u["id"] for u in config.body["webhook_urls"]} == {
        first.body["webhook_id"],
        second.body["webhook_id"],
    }
    assert config.body["webhook_secret_key"] == first.body["webhook_secret"]

    removed = await hooks.call("DELETE", f"/v1/webhook/{first.body['webhook_id']}")
    assert removed.body == {"success": True, "message": "Webhook URL removed successfully"}
    again = await hooks.call("DELETE", f"/v1/webhook/{first.body['webhook_id']}")
    assert again.status == 404
    config = await hooks.call("GET", "/v1/webhook")
    assert [u["id"] for u in config.body["webhook_urls"]] == [second.body["webhook_id"]]
    # Native endpoints are not the face's: it neither lists nor deletes them.
    native = await hooks.call("POST", "/v1/webhook-endpoints", {"url": receiver.endpoint("n")})
    assert native.status == 201
    assert (await hooks.call("DELETE", f"/v1/webhook/{native.body['id']}")).status == 404


async def test_a_bad_url_is_refused_before_anything_is_stored(hooks: Api) -> None:
    reply = await hooks.call("POST", "/v1/webhook", {"webhook_url": "http://169.254.169.254/"})
    assert reply.status == 422, reply.body
    assert (await hooks.call("GET", "/v1/webhook")).body["webhook_urls"] == []
    assert (await hooks.call("POST", "/v1/webhook", {})).status == 422


async def test_events_arrive_in_the_emr_shape_verified_by_the_guides_check(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    created = await hooks.call("POST", "/v1/webhook", {"webhook_url": receiver.endpoint("emr")})
    secret = created.body["webhook_secret"]
    async with running_worker(worker_settings(hooks)):
        connection_id, _ = await arranged(hooks)
        await hooks.call("DELETE", f"/v1/connections/{connection_id}")
        requests = await _requests(receiver, "emr", 2)
    bodies = [orjson.loads(r.body) for r in requests]
    assert sorted(b["event"] for b in bodies) == ["connection.created", "connection.deleted"]
    for request, body in zip(requests, bodies, strict=True):
        assert _verified(request, secret)
        assert not _verified(request, secret + "x")
        assert set(body) == {"id", "event", "created_at", "user_id", "data"}
        assert body["user_id"] == "user_12345"
        assert body["data"]["connection_id"] == connection_id
        assert request.headers["webhook-id"] == body["id"]
        assert request.headers["webhook-attempt"] == "1"
        datetime.fromisoformat(request.headers["webhook-timestamp"])  # ISO 8601
        assert "webhook-signature" not in request.headers  # ISO timestamps: not Standard Webhooks


async def test_rotation_signs_with_the_new_secret_beside_the_old(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    old = (await hooks.call("POST", "/v1/webhook", {"webhook_url": receiver.endpoint("r")})).body
    rotated = await hooks.call("POST", "/v1/webhook/rotate-secret")
    assert rotated.status == 200, rotated.body
    new = rotated.body["webhook_secret_key"]
    assert new.startswith("whsec_")
    assert new != old["webhook_secret"]
    assert (await hooks.call("GET", "/v1/webhook")).body["webhook_secret_key"] == new
    async with running_worker(worker_settings(hooks)):
        await arranged(hooks)
        (request,) = await _requests(receiver, "r", 1)
    assert _verified(request, new)
    later = await hooks.call("POST", "/v1/webhook", {"webhook_url": receiver.endpoint("s")})
    assert later.body["webhook_secret"] == new


async def test_rotation_without_any_url_is_a_404(hooks: Api) -> None:
    reply = await hooks.call("POST", "/v1/webhook/rotate-secret")
    assert reply.status == 404
