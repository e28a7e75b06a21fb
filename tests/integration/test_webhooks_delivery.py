"""Delivering webhooks: signed as Standard Webhooks says (checked with its reference package),
retried on the schedule, redirects not followed, 410 and days of failure disabling the
endpoint, a slow endpoint not holding up another, and every delivery kept with its attempts."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis.asyncio import Redis
from standardwebhooks import Webhook, WebhookVerificationError

from services.gateway.appkeys import RESOURCES
from shared.infra import db
from shared.webhooks import service as webhooks
from shared.webhooks.models import WebhookEventType
from shared.webhooks.signing import standard_signature, unix_seconds
from tests.fakes.webhook_receiver import Answer, WebhookReceiver
from tests.helpers import Api, eventually
from tests.processes import free_port
from tests.webhook_fixtures import (
    announce,
    delivery,
    register,
    settings_of,
    settled,
)
from tests.workflow_fixtures import running_worker, worker_settings


async def test_a_delivery_verifies_with_the_standardwebhooks_package(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    _, secret = await register(hooks, receiver.endpoint("hook"))
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks, WebhookEventType.CONNECTION_DELETED)
        await settled(hooks, delivery_id)
    (request,) = receiver.received("hook")
    verifier = Webhook(secret)
    payload = verifier.verify(request.body, request.headers)
    assert payload["type"] == "connection.deleted"
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["status"] == "deleted"
    assert request.headers["webhook-id"].startswith("msg_")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 10
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"

    # One byte changed: refused.
    tampered = bytearray(request.body)
    tampered[10] ^= 1
    with pytest.raises(WebhookVerificationError):
        verifier.verify(bytes(tampered), request.headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(request.body, {**request.headers, "webhook-id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(request.body, request.headers)
    # A stale timestamp: the same message, correctly signed ten minutes ago, is refused.
    then = datetime.now(UTC) - timedelta(minutes=10)
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    stale = {
        **request.headers,
        "webhook-timestamp": str(unix_seconds(then)),
        "webhook-signature": standard_signature(
            [raw], msg_id=request.webhook_id, timestamp=then, body=request.body
        ),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(request.body, stale)


async def test_during_a_rotation_both_secrets_sign(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    endpoint_id, old = await register(hooks, receiver.endpoint("hook"))
    rotated = await hooks.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
    new = rotated.body["secret"]
    async with running_worker(worker_settings(hooks)):
        first = await announce(hooks)
        await settled(hooks, first[0])
        # The overlap ends: only the new secret signs.
        await pool.execute(
            "UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'"
        )
        second = await announce(hooks)
        await settled(hooks, second[0])
    during, after = receiver.received("hook")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(during.body, during.headers)
    Webhook(old).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


async def test_500_then_200_takes_two_attempts(hooks: Api, receiver: WebhookReceiver) -> None:
    await register(hooks, receiver.endpoint("hook"))
    receiver.answer("hook", Answer(500, body="boom"))
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    log = done["attempt_log"]
    assert [(a["status_code"], a["succeeded"]) for a in log] == [(500, False), (200, True)]
    assert log[0]["response_body"] == "boom"
    assert log[0]["error"] == "answered 500"
    assert all(a["duration_ms"] >= 0 for a in log)
    received = receiver.received("hook")
    assert len({r.webhook_id for r in received}) == 1  # the same webhook-id on every retry
    assert done["message_id"] == received[0].webhook_id
    assert done["next_attempt_at"] is None


async def test_always_403_fails_after_the_whole_schedule(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    endpoint_id, _ = await register(hooks, receiver.endpoint("hook"))
    receiver.answer("hook", then=Answer(403, body="x" * 5000))
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
    schedule = settings_of(hooks).webhook_retry_schedule
    assert (done["status"], done["attempts"]) == ("failed", len(schedule))
    assert [a["status_code"] for a in done["attempt_log"]] == [403] * len(schedule)
    assert all(len(a["response_body"]) == 2048 for a in done["attempt_log"])  # truncated
    assert len(receiver.received("hook")) == len(schedule)
    endpoint = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}")
    assert endpoint.body["enabled"] is True  # failing, but not for days
    assert endpoint.body["failing_since"] is not None


async def test_connection_refused_is_retried_then_failed(hooks: Api) -> None:
    await register(hooks, f"http://127.0.0.1:{free_port()}/nobody")
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
    schedule = settings_of(hooks).webhook_retry_schedule
    assert (done["status"], done["attempts"]) == ("failed", len(schedule))
    assert all(a["status_code"] is None for a in done["attempt_log"])
    assert all(a["error"].startswith("network: ") for a in done["attempt_log"])


async def test_a_redirect_is_a_failure_and_is_not_followed(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("moved"))
    receiver.answer("moved", then=Answer(302, headers={"Location": receiver.endpoint("target")}))
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
    assert done["status"] == "failed"
    assert done["attempt_log"][0]["error"] == "redirect (302) not followed"
    assert receiver.received("target") == []


async def test_410_disables_the_endpoint(hooks: Api, receiver: WebhookReceiver) -> None:
    endpoint_id, _ = await register(hooks, receiver.endpoint("gone"))
    receiver.answer("gone", Answer(410))
    async with running_worker(worker_settings(hooks)):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
        assert (done["status"], done["attempts"]) == ("failed", 1)  # no retries
        endpoint = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}")
        assert (endpoint.body["enabled"], endpoint.body["disabled_reason"]) == (False, "gone")
        assert endpoint.body["disabled_at"] is not None
        # While disabled it gets nothing, but the event log keeps what it missed.
        assert await announce(hooks) == []
        missed = await hooks.call("GET", "/v1/webhook-events", params={"status": "undelivered"})
        assert len(missed.body["data"]) == 1
        refused = await hooks.call("POST", f"/v1/webhook-deliveries/{delivery_id}/redeliver")
        assert refused.status == 409
        # Enabled again, it gets what comes next, and a redelivery of what it missed.
        await hooks.call("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", {"enabled": True})
        (later,) = await announce(hooks)
        assert (await settled(hooks, later))["status"] == "succeeded"
        again = await hooks.call("POST", f"/v1/webhook-deliveries/{delivery_id}/redeliver")
        assert again.status == 202
        redelivered = await settled(hooks, delivery_id)
    assert (redelivered["status"], redelivered["attempts"]) == ("succeeded", 2)


async def test_an_endpoint_failing_for_five_days_is_disabled(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    endpoint_id, _ = await register(hooks, receiver.endpoint("down"))
    receiver.answer("down", then=Answer(503))
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '4 days'")
    async with running_worker(worker_settings(hooks)):
        (first,) = await announce(hooks)
        await settled(hooks, first)
        endpoint = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}")
        assert endpoint.body["enabled"] is True  # four days is not five
        await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '5 days'")
        (second,) = await announce(hooks)
        await settled(hooks, second)
    endpoint = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}")
    assert (endpoint.body["enabled"], endpoint.body["disabled_reason"]) == (False, "failing")
    done = await delivery(hooks, second)
    assert (done["status"], done["attempts"]) == ("failed", 1)


async def test_a_success_ends_the_failure_streak(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    endpoint_id, _ = await register(hooks, receiver.endpoint("hook"))
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '4 days'")
    async with running_worker(worker_settings(hooks)):
        await settled(hooks, (await announce(hooks))[0])
    endpoint = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}")
    assert endpoint.body["failing_since"] is None


async def test_429_retry_after_counts_within_one_to_two_times_the_schedule(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("busy"))
    receiver.answer(
        "busy",
        Answer(429, headers={"Retry-After": "3600"}),
        Answer(429, headers={"Retry-After": "1"}),
    )
    settings = worker_settings(hooks, webhook_retry_schedule="0,10,30")
    async with running_worker(settings):
        (delivery_id,) = await announce(hooks)
        pending = await eventually(
            lambda: delivery(hooks, delivery_id),
            lambda d: (d["attempts"], d["status"]) == (1, "pending"),
            timeout=10,
        )
    waited = datetime.fromisoformat(pending["next_attempt_at"]) - datetime.fromisoformat(
        pending["last_attempt_at"]
    )
    assert 19 <= waited.total_seconds() <= 21  # an hour asked; twice the scheduled 10 s given


async def test_a_timeout_is_a_failure_retried(hooks: Api, receiver: WebhookReceiver) -> None:
    await register(hooks, receiver.endpoint("slow"))
    receiver.answer("slow", Answer(200, delay=2))
    settings = worker_settings(hooks, webhook_timeout=0.3)
    async with running_worker(settings):
        (delivery_id,) = await announce(hooks)
        done = await settled(hooks, delivery_id)
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    first = done["attempt_log"][0]
    assert first["error"] == "timeout: no answer within 0.3 s"
    assert first["status_code"] is None


async def test_a_slow_endpoint_does_not_hold_up_another(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool
) -> None:
    await register(hooks, receiver.endpoint("fast"))
    slow_id, _ = await register(hooks, receiver.endpoint("slow"))
    receiver.answer("slow", then=Answer(200, delay=1.5))
    count = 20
    # Six worker slots; at most two deliveries in flight per endpoint.
    settings = worker_settings(
        hooks, worker_max_jobs=6, webhook_endpoint_concurrency=2, webhook_timeout=5
    )
    async with running_worker(settings):
        started = time.monotonic()
        for _ in range(count):
            await announce(hooks)
        await eventually(lambda: receiver.count("fast"), lambda n: n == count, timeout=10)
        fast_done = time.monotonic() - started
        assert fast_done < 1.5, fast_done  # sooner than one slow answer
        assert receiver.most_in_flight["slow"] <= 2
        assert len(receiver.received("slow")) <= 4
        slots = await pool.fetch(
            """SELECT e.in_flight, (SELECT count(*) FROM webhook_deliveries d
                                    WHERE d.endpoint_id = e.id AND d.status = 'sending') AS sending
               FROM webhook_endpoints e"""
        )
        assert all(r["in_flight"] == r["sending"] <= 2 for r in slots)
        # The slow endpoint's deliveries wait their turn; disabled, they stop waiting.
        await hooks.call("PATCH", f"/v1/webhook-endpoints/{slow_id}", {"enabled": False})


async def test_the_sweeper_delivers_what_was_announced_without_redis(
    hooks: Api, receiver: WebhookReceiver, redis: Redis
) -> None:
    await register(hooks, receiver.endpoint("hook"))
    resources = hooks.http.app[RESOURCES]
    delivery_ids = [
        (
            await webhooks.announce(
                pool=resources.pool,
                redis=None,
                tenant=hooks.tenant,
                event_type=WebhookEventType.CONNECTION_CREATED,
                data={"connection_id": "c", "linked_account_id": "u", "app": "sandbox"},
            )
        )[0]
        for _ in range(3)
    ]
    assert await redis.zcard(settings_of(hooks).queue_name) == 0
    async with running_worker(worker_settings(hooks)):
        for delivery_id in delivery_ids:
            assert (await settled(hooks, delivery_id))["status"] == "succeeded"


async def test_the_test_route_sends_a_signed_ping_and_answers_with_the_attempt(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    endpoint_id, secret = await register(hooks, receiver.endpoint("hook"), format="gocobalt")
    sent = await hooks.call("POST", f"/v1/webhook-endpoints/{endpoint_id}/test")
    assert sent.status == 200, sent.body
    assert (sent.body["status"], sent.body["event_type"]) == ("succeeded", "webhook.test")
    assert sent.body["attempt_log"][0]["status_code"] == 200
    (request,) = receiver.received("hook")
    assert Webhook(secret).verify(request.body, request.headers)["data"]["endpoint_id"] == (
        endpoint_id
    )
    listed = await hooks.call("GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert [d["id"] for d in listed.body["data"]] == [sent.body["id"]]


async def test_the_event_log_filters_and_pages(hooks: Api, receiver: WebhookReceiver) -> None:
    endpoint_id, _ = await register(hooks, receiver.endpoint("hook"))
    receiver.answer("hook", Answer(500), Answer(500), Answer(500), Answer(500))
    async with running_worker(worker_settings(hooks)):
        (failing,) = await announce(hooks, WebhookEventType.CONNECTION_DELETED)
        await settled(hooks, failing)
        middle = datetime.now(UTC)
        created = [
            (await announce(hooks, WebhookEventType.CONNECTION_CREATED))[0] for _ in range(3)
        ]
        for delivery_id in created:
            await settled(hooks, delivery_id)

    async def log(**params: str) -> list[dict[str, object]]:
        reply = await hooks.call("GET", "/v1/webhook-events", params=params)
        assert reply.status == 200, reply.body
        data: list[dict[str, object]] = reply.body["data"]
        return data

    everything = await log()
    assert [e["type"] for e in everything] == ["connection.deleted"] + ["connection.created"] * 3
    assert [e["status"] for e in everything] == ["failed"] + ["succeeded"] * 3
    assert [e["type"] for e in await log(type="connection.deleted")] == ["connection.deleted"]
    assert [e["status"] for e in await log(status="failed")] == ["failed"]
    assert len(await log(since=middle.isoformat())) == 3
    assert len(await log(until=middle.isoformat())) == 1
    assert len(await log(endpoint_id=endpoint_id, status="succeeded")) == 3
    first = everything[0]
    assert str(first["id"]).startswith("msg_")
    assert first["deliveries"] == [
        {"id": str(failing), "endpoint_id": endpoint_id, "status": "failed"}
    ]
    assert orjson.loads(orjson.dumps(first["payload"]))["type"] == "connection.deleted"

    page = await hooks.call("GET", "/v1/webhook-events", params={"limit": "3"})
    rest = await hooks.call(
        "GET", "/v1/webhook-events", params={"limit": "3", "cursor": page.body["next_cursor"]}
    )
    assert [e["id"] for e in page.body["data"] + rest.body["data"]] == [e["id"] for e in everything]
    assert rest.body["next_cursor"] is None
    for params, field in [
        ({"type": "nope"}, "type"),
        ({"status": "lost"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"endpoint_id": "x"}, "endpoint_id"),
        ({"cursor": "garbage"}, "cursor"),
    ]:
        reply = await hooks.call("GET", "/v1/webhook-events", params=params)
        assert reply.status == 422, params
        assert reply.body["error"]["field"] == field


async def test_opt_in_types_go_only_to_endpoints_that_name_them(
    hooks: Api, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("all"))
    await register(hooks, receiver.endpoint("named"), event_types=["execution.succeeded"])
    async with running_worker(worker_settings(hooks)):
        ids = await announce(hooks, WebhookEventType.EXECUTION_SUCCEEDED)
        assert len(ids) == 1
        await settled(hooks, ids[0])
        deleted = await announce(hooks, WebhookEventType.CONNECTION_DELETED)
        assert len(deleted) == 1
        await settled(hooks, deleted[0])
    assert [orjson.loads(r.body)["type"] for r in receiver.received("named")] == [
        "execution.succeeded"
    ]
    assert [orjson.loads(r.body)["type"] for r in receiver.received("all")] == [
        "connection.deleted"
    ]


async def test_nothing_is_recorded_for_a_tenant_without_endpoints(
    hooks: Api, pool: db.Pool
) -> None:
    assert await announce(hooks) == []
    assert await pool.fetchval("SELECT count(*) FROM webhook_messages") == 0
