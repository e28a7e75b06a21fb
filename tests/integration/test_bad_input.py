"""Input PostgreSQL or orjson cannot take is a 422 naming the field, and nothing is written
(issue 9, defect 4: most of these answered 500): a NUL in any string or key, integers beyond
int64, JSON nested too deep, null for a field that cannot be cleared; and a body that is
missing or not JSON (defect 11)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.gateway.routes import all_endpoints
from shared.infra import db
from shared.schemas import MAX_JSON_DEPTH
from tests.helpers import Api

NUL = "\x00"
BIG = 2**64  # orjson refuses it; beyond int64 in any case
TABLES = (
    "clients",
    "environments",
    "api_keys",
    "orgs",
    "linked_accounts",
    "app_settings",
    "event_definitions",
    "events",
    "workflows",
    "configs",
)


async def _snapshot(pool: db.Pool) -> dict[str, str | None]:
    """A digest of every row a request could write."""
    return {
        table: await pool.fetchval(
            f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"  # noqa: S608
        )
        for table in TABLES
    }


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.fixture
async def arranged(acme: Api) -> Api:
    """An account, an event definition, a workflow and a config to aim bad input at."""
    account = await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "acct"})
    assert account.status == 201
    definition = await acme.call(
        "POST", "/v1/event-definitions", {"name": "thing.done", "schema": {"type": "object"}}
    )
    assert definition.status == 201
    return acme


EVENT = {"event": "thing.done", "linked_account_id": "acct"}
WORKFLOW: dict[str, Any] = {
    "name": "wf",
    "app": "sandbox",
    "trigger": {"event": "thing.done"},
    "steps": [{"id": "s", "action": "sandbox.create_contact", "input": {"email": "a@b.test"}}],
}

# (method, path, body, the field the 422 must name)
CASES: list[tuple[str, str, Any, str]] = [
    # a NUL in a string or a key, anywhere
    ("POST", "/v1/events", {**EVENT, "payload": {"k": f"a{NUL}b"}}, "payload.k"),
    ("POST", "/v1/events", {**EVENT, "payload": {f"k{NUL}": 1}}, "payload.k\\u0000"),
    ("POST", "/v1/events", {**EVENT, "payload": {"l": [{"m": NUL}]}}, "payload.l.0.m"),
    ("POST", "/v1/events", {**EVENT, "config_id": NUL, "payload": {}}, "config_id"),
    (
        "POST",
        "/v1/events/batch",
        {"events": [{**EVENT, "payload": {}}, {**EVENT, "payload": {"k": NUL}}]},
        "events.1.payload.k",
    ),
    ("POST", "/v1/event-definitions", {"name": "x", "sample": {"k": NUL}}, "sample.k"),
    (
        "POST",
        "/v1/event-definitions",
        {"name": "x", "schema": {"type": "object", "properties": {f"{NUL}": {}}}},
        "schema.properties.\\u0000",
    ),
    ("POST", "/v1/linked-accounts", {"linked_account_id": "b", "name": NUL}, "name"),
    ("POST", "/v1/linked-accounts", {"linked_account_id": f"b{NUL}"}, "linked_account_id"),
    (
        "POST",
        "/v1/linked-accounts",
        {"linked_account_id": "b", "metadata": {NUL: 1}},
        "metadata.\\u0000",
    ),
    ("PATCH", "/v1/linked-accounts/acct", {"metadata": {"k": [NUL]}}, "metadata.k.0"),
    ("PUT", "/v1/apps/sandbox", {"scopes": ["read", f"w{NUL}"]}, "scopes.1"),
    (
        "PUT",
        "/v1/apps/sandbox",
        {"oauth_client_id": NUL, "oauth_client_secret": "s"},
        "oauth_client_id",
    ),
    ("PATCH", "/v1/settings", {"name": f"Acme{NUL}"}, "name"),
    ("POST", "/v1/workflows", {**WORKFLOW, "name": f"w{NUL}"}, "name"),
    ("POST", "/v1/link/token/create", {"user_id": "u", "org_id": "o", "emr_name": NUL}, "emr_name"),
    # integers beyond int64
    ("POST", "/v1/events", {**EVENT, "payload": {"n": BIG}}, "payload.n"),
    ("POST", "/v1/events", {**EVENT, "payload": {"n": [-BIG]}}, "payload.n.0"),
    ("POST", "/v1/event-definitions", {"name": "x", "sample": {"n": BIG}}, "sample.n"),
    (
        "POST",
        "/v1/linked-accounts",
        {"linked_account_id": "b", "metadata": {"n": BIG}},
        "metadata.n",
    ),
    (
        "POST",
        "/v1/workflows",
        {**WORKFLOW, "steps": [{**WORKFLOW["steps"][0], "input": {"n": BIG}}]},
        "steps.0.input.n",
    ),
    # JSON nested too deep
    ("POST", "/v1/event-definitions", {"name": "x", "sample": _deep(128)}, "sample"),
    ("POST", "/v1/events", {**EVENT, "payload": _deep(MAX_JSON_DEPTH)}, "payload"),
    # null where a value cannot be cleared
    ("PATCH", "/v1/settings", {"name": None}, "name"),
    ("PATCH", "/v1/settings", {"allowed_redirect_urls": None}, "allowed_redirect_urls"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    CASES,
    ids=[f"{m} {p} {f}" for m, p, _, f in CASES],
)
async def test_bad_input_is_a_422_naming_the_field(
    arranged: Api, pool: db.Pool, method: str, path: str, body: Any, field: str
) -> None:
    before = await _snapshot(pool)
    reply = await arranged.call(
        method, path, data=_encode(body), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 422, reply.body
    error = reply.body["error"]
    assert error["code"] == "validation_failed"
    assert error["field"].startswith(field), error
    assert error["message"].startswith(f"{error['field']}: "), error
    assert error["details"][0]["field"] == error["field"]
    assert await _snapshot(pool) == before


def _encode(body: Any) -> bytes:
    """JSON as a client would send it (orjson refuses integers beyond 64 bits)."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        import json

        return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/linked-accounts/a%00b", "linked_account_id"),
        ("/v1/orgs/%00", "org_id"),
        ("/v1/event-definitions/x%00", "name"),
        ("/v1/linked-accounts?org_id=%00", "org_id"),
        ("/v1/linked-accounts?cursor=a%00", "cursor"),
        ("/v1/executions?linked_account_id=%00", "linked_account_id"),
    ],
)
async def test_a_nul_in_the_path_or_query_is_a_422(arranged: Api, path: str, field: str) -> None:
    reply = await arranged.call("GET", path)
    assert reply.status == 422, reply.body
    assert reply.body["error"]["field"] == field


async def test_what_is_within_the_limits_is_stored(arranged: Api) -> None:
    payload = {"max": 2**63 - 1, "min": -(2**63), "deep": _deep(MAX_JSON_DEPTH - 3)}
    sent = await arranged.call("POST", "/v1/events", {**EVENT, "payload": payload})
    assert sent.status == 202, sent.body
    stored = await arranged.call("GET", f"/v1/events/{sent.body['event_id']}")
    assert stored.body["payload"] == payload
    sample = await arranged.call(
        "POST", "/v1/event-definitions", {"name": "deep", "sample": _deep(MAX_JSON_DEPTH - 2)}
    )
    assert sample.status == 201, sample.body


BODY_ENDPOINTS = [e for e in all_endpoints() if e.body is not None]


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS, ids=lambda e: e.operation_id)
async def test_a_missing_body_is_a_422_and_not_json_a_415(
    arranged: Api, pool: db.Pool, endpoint: Any
) -> None:
    path = endpoint.path.format_map(_PathIds(linked_account_id="acct", slug="sandbox"))
    before = await _snapshot(pool)
    missing = await arranged.call(endpoint.method, path)
    not_json = await arranged.call(endpoint.method, path, data=b"name=x")
    if endpoint.errors is None:  # Linkport's own API and error shape
        assert missing.status == 422, missing.body
        assert missing.body["error"]["field"] == "body"
        assert not_json.status == 415, not_json.body
    else:  # another product's face answers in that product's shape (gocobalt knows no 422)
        assert missing.status in (400, 401, 422), missing.body
        assert not_json.status in (400, 401, 415), not_json.body
    assert await _snapshot(pool) == before


class _PathIds(dict[str, str]):
    """Path parameters: the named ones as given, any other an id that exists nowhere."""

    def __missing__(self, key: str) -> str:
        return "00000000-0000-0000-0000-000000000000"
