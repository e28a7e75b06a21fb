"""Webhook rules that need no server: the retry schedule setting, delays with jitter and
Retry-After, signatures, message ids, and the seed products' envelopes."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook

from shared.config import Settings
from shared.tenancy import Tenant
from shared.webhooks.delivery import next_delay, retry_after_seconds
from shared.webhooks.envelopes import Extras, ReauthLink, build_request, formats_for
from shared.webhooks.models import (
    EndpointFormat,
    Message,
    WebhookEventType,
    message_ref,
    new_message_id,
    parse_message_ref,
)
from shared.webhooks.signing import new_secret, secret_text


def test_the_retry_schedule_setting() -> None:
    assert Settings().webhook_retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert Settings(webhook_retry_schedule="0, 0.5,2").webhook_retry_schedule == (0, 0.5, 2)
    assert Settings(webhook_retry_schedule="[0, 5]").webhook_retry_schedule == (0, 5)
    for bad in ("5,10", "0,-1", "", "0,soon"):
        with pytest.raises(ValidationError):
            Settings(webhook_retry_schedule=bad)


def test_retry_delays_jitter_and_retry_after() -> None:
    schedule = (0.0, 10.0, 60.0)
    assert next_delay(schedule=schedule, attempt=1, jitter=0, retry_after=None) == 10
    assert next_delay(schedule=schedule, attempt=3, jitter=0, retry_after=None) is None
    delays = [
        next_delay(schedule=schedule, attempt=2, jitter=0.2, retry_after=None) for _ in range(200)
    ]
    assert all(d is not None and 48 <= d <= 72 for d in delays)
    assert len(set(delays)) > 1
    # Retry-After counts within 1 to 2 times the scheduled delay.
    assert next_delay(schedule=schedule, attempt=1, jitter=0, retry_after=3600) == 20
    assert next_delay(schedule=schedule, attempt=1, jitter=0, retry_after=15) == 15
    assert next_delay(schedule=schedule, attempt=1, jitter=0, retry_after=1) == 10
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "120"}, now=now) == 120
    assert retry_after_seconds({"retry-after": "Wed, 01 Jan 2025 12:01:00 GMT"}, now=now) == 60
    assert retry_after_seconds({"Retry-After": "soon"}, now=now) is None
    assert retry_after_seconds({}, now=now) is None


def test_message_ids_sort_by_time_and_read_back() -> None:
    ids = [new_message_id() for _ in range(100)]
    assert all(i.version == 7 for i in ids)
    assert [i.int >> 80 for i in ids] == sorted(i.int >> 80 for i in ids)  # milliseconds first
    ref = message_ref(ids[0])
    assert ref.startswith("msg_")
    assert parse_message_ref(ref) == ids[0]
    assert parse_message_ref("msg_nothex") is None
    assert parse_message_ref(str(ids[0])) is None


def _message(event_type: WebhookEventType, data: dict[str, str]) -> Message:
    now = datetime(2023, 11, 7, 8, 3, 27, tzinfo=UTC)
    tenant = Tenant(uuid.UUID(int=1), "live")
    payload = {"type": event_type.value, "timestamp": "2023-11-07T08:03:27.000Z", "data": data}
    return Message(new_message_id(), tenant, event_type, payload, now)


CONNECTION = {
    "connection_id": str(uuid.UUID(int=2)),
    "linked_account_id": "user_1",
    "app": "hubspot",
    "status": "active",
}


def test_a_standard_request_is_signed_with_every_current_secret() -> None:
    current, previous = new_secret(), new_secret()
    message = _message(WebhookEventType.CONNECTION_CREATED, CONNECTION)
    now = datetime.now(UTC)
    request = build_request(
        format=EndpointFormat.STANDARD,
        message=message,
        secrets=[current, previous],
        sent_at=now,
        extras=Extras(),
    )
    assert orjson.loads(request.body) == message.payload
    assert request.headers["webhook-id"] == message.ref
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (current, previous):
        Webhook(secret_text(secret)).verify(request.body, request.headers)


def test_needs_reauth_carries_the_link_made_for_the_attempt() -> None:
    data = {**CONNECTION, "status": "needs_reauth", "reason": "the app answered 401"}
    message = _message(WebhookEventType.CONNECTION_NEEDS_REAUTH, data)
    link = ReauthLink("lt_abc", "https://lp.example/link?token=lt_abc", datetime.now(UTC))
    request = build_request(
        format=EndpointFormat.STANDARD,
        message=message,
        secrets=[new_secret()],
        sent_at=datetime.now(UTC),
        extras=Extras(reauth_link=link),
    )
    sent = orjson.loads(request.body)["data"]
    assert (sent["link_token"], sent["link_url"]) == ("lt_abc", link.link_url)
    assert "link_token" not in message.payload["data"]  # the stored message stays without it


def test_gocobalt_body_and_signature() -> None:
    secret = new_secret()
    message = _message(WebhookEventType.CONNECTION_NEEDS_REAUTH, CONNECTION)
    request = build_request(
        format=EndpointFormat.GOCOBALT,
        message=message,
        secrets=[secret],
        sent_at=datetime.now(UTC),
        extras=Extras(),
    )
    assert orjson.loads(request.body) == {
        "linked_account_id": "user_1",
        "org_id": str(uuid.UUID(int=1)),
        "environment": "production",
        "type": "General",
        "event": "Connection Expired",
        "slug": "hubspot",
        "createdAt": "Tue, 07 Nov 2023 08:03:27 GMT",
    }
    expected = hmac.new(secret_text(secret).encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-cobalt-signature"] == expected


def test_which_formats_receive_which_types() -> None:
    assert formats_for(WebhookEventType.CONNECTION_DELETED) == (
        EndpointFormat.STANDARD,
        EndpointFormat.GOCOBALT,
        EndpointFormat.EMR,
    )
    assert formats_for(WebhookEventType.EVENT_REJECTED) == (
        EndpointFormat.STANDARD,
        EndpointFormat.EMR,
    )
    assert formats_for(WebhookEventType.TEST) == tuple(EndpointFormat)
