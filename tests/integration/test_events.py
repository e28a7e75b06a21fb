"""App events: definitions (schema or sample, versioned), ingest, idempotency, batches."""

from __future__ import annotations

import asyncio
import uuid

from shared.infra import db
from tests.fakes import StartFake
from tests.fakes.schema_host import SchemaHost
from tests.helpers import Api, AppFactory, Reply, eventually
from tests.workflow_fixtures import CONTACT_SAMPLE, define_contact_event


async def _account(api: Api, account: str = "user_12345") -> None:
    await api.call("POST", "/v1/linked-accounts", {"linked_account_id": account})


async def test_definition_from_a_sample_infers_a_schema(acme: Api) -> None:
    reply = await acme.call(
        "POST", "/v1/event-definitions", {"name": "contact.created", "sample": CONTACT_SAMPLE}
    )
    assert reply.status == 201
    assert reply.body["version"] == 1
    schema = reply.body["schema"]
    assert schema["type"] == "object"
    assert schema["properties"]["email"] == {"type": "string"}
    assert schema["properties"]["vip"] == {"type": "boolean"}
    assert set(schema["required"]) == set(CONTACT_SAMPLE)


async def test_definitions_are_versioned(acme: Api) -> None:
    first = await acme.call(
        "POST", "/v1/event-definitions", {"name": "deal.won", "schema": {"type": "object"}}
    )
    same = await acme.call(
        "POST", "/v1/event-definitions", {"name": "deal.won", "schema": {"type": "object"}}
    )
    assert same.status == 200
    assert same.body["changed"] is False
    assert same.body["version"] == 1
    changed = await acme.call(
        "POST",
        "/v1/event-definitions",
        {"name": "deal.won", "schema": {"type": "object", "required": ["amount"]}},
    )
    assert changed.status == 201
    assert changed.body["version"] == 2
    versions = await acme.call("GET", "/v1/event-definitions/deal.won")
    assert [v["version"] for v in versions.body["data"]] == [2, 1]
    listed = await acme.call("GET", "/v1/event-definitions")
    assert [(d["name"], d["version"]) for d in listed.body["data"]] == [("deal.won", 2)]
    assert first.body["version"] == 1
    assert (await acme.call("GET", "/v1/event-definitions/nope")).status == 404


async def test_bad_definitions_are_422(acme: Api, globex: Api) -> None:
    both = await acme.call(
        "POST", "/v1/event-definitions", {"name": "x", "schema": {}, "sample": {}}
    )
    assert both.status == 422
    neither = await acme.call("POST", "/v1/event-definitions", {"name": "x"})
    assert neither.status == 422
    bad_schema = await acme.call(
        "POST", "/v1/event-definitions", {"name": "x", "schema": {"type": "nonsense"}}
    )
    assert bad_schema.status == 422
    assert bad_schema.body["error"]["field"] == "schema"
    not_object = await acme.call("POST", "/v1/event-definitions", {"name": "x", "sample": [1, 2]})
    assert not_object.status == 422
    assert not_object.body["error"]["field"] == "sample"
    # Names are free text ("New Contact Created"), but never control characters or blank edges.
    for name in ("has\nnewline", " padded ", ""):
        bad_name = await acme.call("POST", "/v1/event-definitions", {"name": name, "sample": {}})
        assert bad_name.body["error"]["field"] == "name", name
    await define_contact_event(acme)
    assert (await globex.call("GET", "/v1/event-definitions/contact.created")).status == 404


async def test_event_is_durable_before_the_202(acme: Api, pool: db.Pool) -> None:
    await _account(acme)
    await define_contact_event(acme)
    body = {
        "event": "contact.created",
        "linked_account_id": "user_12345",
        "payload": CONTACT_SAMPLE,
    }
    reply = await acme.call("POST", "/v1/events", body)
    assert reply.status == 202
    assert reply.body["status"] == "pending"
    row = await pool.fetchrow("SELECT * FROM events WHERE id = $1::uuid", reply.body["event_id"])
    assert row is not None
    assert row["payload"] == CONTACT_SAMPLE
    assert row["definition_version"] == 1
    shown = await acme.call("GET", f"/v1/events/{reply.body['event_id']}")
    assert shown.body["event"] == "contact.created"
    assert shown.body["executions"] == []


async def test_payload_is_checked_against_the_schema(acme: Api, pool: db.Pool) -> None:
    await _account(acme)
    await define_contact_event(acme)
    wrong_type = {**CONTACT_SAMPLE, "email": 42}
    reply = await acme.call(
        "POST",
        "/v1/events",
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": wrong_type},
    )
    assert reply.status == 422
    assert reply.body["error"]["field"] == "payload.email"
    assert '42 is not of type "string"' in reply.body["error"]["message"]
    missing = {k: v for k, v in CONTACT_SAMPLE.items() if k != "email"}
    reply = await acme.call(
        "POST",
        "/v1/events",
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": missing},
    )
    assert reply.status == 422
    assert '"email" is a required property' in reply.body["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM events") == 0


async def test_unknown_event_or_account_is_a_404(acme: Api, globex: Api) -> None:
    await _account(acme)
    await define_contact_event(acme)
    unknown_event = await acme.call(
        "POST", "/v1/events", {"event": "nope", "linked_account_id": "user_12345", "payload": {}}
    )
    assert unknown_event.status == 404
    assert unknown_event.body["error"]["field"] == "event"
    unknown_account = await acme.call(
        "POST",
        "/v1/events",
        {"event": "contact.created", "linked_account_id": "ghost", "payload": CONTACT_SAMPLE},
    )
    assert unknown_account.status == 404
    assert unknown_account.body["error"]["field"] == "linked_account_id"
    other_tenant = await globex.call(
        "POST",
        "/v1/events",
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": CONTACT_SAMPLE},
    )
    assert other_tenant.status == 404


async def test_one_idempotency_key_one_event_under_100_concurrent_posts(
    acme: Api, pool: db.Pool
) -> None:
    await _account(acme)
    await define_contact_event(acme)
    body = {
        "event": "contact.created",
        "linked_account_id": "user_12345",
        "payload": CONTACT_SAMPLE,
    }
    replies = await asyncio.gather(
        *(
            acme.call("POST", "/v1/events", body, headers={"Idempotency-Key": "order-1"})
            for _ in range(100)
        )
    )
    assert {r.status for r in replies} == {202}
    assert len({r.body["event_id"] for r in replies}) == 1
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
    different = await acme.call(
        "POST",
        "/v1/events",
        {**body, "payload": {**CONTACT_SAMPLE, "first": "Grace"}},
        headers={"Idempotency-Key": "order-1"},
    )
    assert different.status == 409
    assert different.body["error"]["field"] == "Idempotency-Key"


async def test_batch_of_1000_is_one_transaction(acme: Api, pool: db.Pool) -> None:
    await _account(acme)
    await define_contact_event(acme)
    item = {
        "event": "contact.created",
        "linked_account_id": "user_12345",
        "payload": CONTACT_SAMPLE,
    }
    events = [{**item, "idempotency_key": f"b-{i}"} for i in range(1000)]
    reply = await acme.call("POST", "/v1/events/batch", {"events": events})
    assert reply.status == 202
    assert len(reply.body["data"]) == 1000
    assert await pool.fetchval("SELECT count(*) FROM events") == 1000
    again = await acme.call("POST", "/v1/events/batch", {"events": events[:10]})
    assert [e["event_id"] for e in again.body["data"]] == [
        e["event_id"] for e in reply.body["data"][:10]
    ]
    assert await pool.fetchval("SELECT count(*) FROM events") == 1000

    broken = [{**item} for _ in range(5)]
    broken[3] = {**item, "payload": {**CONTACT_SAMPLE, "email": None}}
    refused = await acme.call("POST", "/v1/events/batch", {"events": broken})
    assert refused.status == 422
    assert refused.body["error"]["field"] == "events.3.payload.email"
    assert await pool.fetchval("SELECT count(*) FROM events") == 1000
    too_many = await acme.call("POST", "/v1/events/batch", {"events": [item] * 1001})
    assert too_many.status == 422
    duplicate_keys = await acme.call(
        "POST",
        "/v1/events/batch",
        {"events": [{**item, "idempotency_key": "k"}, {**item, "idempotency_key": "k"}]},
    )
    assert duplicate_keys.status == 422


async def test_a_schema_never_fetches_external_references(acme: Api, start_fake: StartFake) -> None:
    host = await start_fake(SchemaHost())
    remote = {"properties": {"email": {"$ref": host.url + "/email.json"}}}
    reply = await acme.call("POST", "/v1/event-definitions", {"name": "x", "schema": remote})
    assert reply.status == 422
    assert reply.body["error"]["field"] == "schema"
    assert host.requested == []  # refused as it stands, never requested (that would be SSRF)


async def test_a_new_definition_version_applies_at_once_on_every_gateway(
    acme: Api, make_client: AppFactory
) -> None:
    other = Api(await make_client(), acme.credentials, acme.tenant)
    await _account(acme)
    await define_contact_event(acme)
    event = {"event": "contact.created", "linked_account_id": "user_12345"}
    assert (
        await other.call("POST", "/v1/events", {**event, "payload": CONTACT_SAMPLE})
    ).status == 202
    # Version 2 needs a phone number; the other gateway had version 1 cached.
    v2 = {**CONTACT_SAMPLE, "phone": "+44 20 7946 0000"}
    saved = await acme.call(
        "POST", "/v1/event-definitions", {"name": "contact.created", "sample": v2}
    )
    assert saved.body["version"] == 2

    async def on_other() -> Reply:
        return await other.call("POST", "/v1/events", {**event, "payload": CONTACT_SAMPLE})

    refused = await eventually(on_other, lambda reply: reply.status == 422, timeout=3)
    assert refused.body["error"]["field"] == "payload"
    accepted = await other.call("POST", "/v1/events", {**event, "payload": v2})
    assert accepted.status == 202


async def test_batch_event_ids_are_distinct_random_uuids(acme: Api) -> None:
    await _account(acme)
    await define_contact_event(acme)
    batch = [
        {"event": "contact.created", "linked_account_id": "user_12345", "payload": CONTACT_SAMPLE}
        for _ in range(200)
    ]
    reply = await acme.call("POST", "/v1/events/batch", {"events": batch})
    ids = [uuid.UUID(e["event_id"]) for e in reply.body["data"]]
    assert len(set(ids)) == 200
    assert {(i.version, i.variant) for i in ids} == {(4, uuid.RFC_4122)}
