"""Headless connect: ``POST /v1/connections`` connects a linked account to a key-based app
with the fields its user typed, checked against the catalog and verified with the app (a
fake here, added through ``LINKPORT_CATALOG_OVERRIDES``) before the secrets are sealed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.clients import store as clients
from shared.infra import db
from shared.infra.outbound import parse_networks
from tests.fakes.key_app import FakeKeyApp
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory

USER = "user_12345"
GOOD_KEY = "lk_live_good_0123456789"
BAD_KEY = "lk_live_wrong_9876543210"


@dataclass
class Setup:
    acme: Api
    app: FakeKeyApp


def _override(folder: Path, fake_url: str) -> str:
    """An operator's catalog entry for a key-based app whose API is the fake."""
    (folder / "keyed.toml").write_text(
        f"""name = "Keyed CRM"
description = "A key-based app for tests."
categories = ["crm"]
auth_kind = "api_key"
api_base_url = "{fake_url}/api"
default_enabled = ["test"]

[request_auth]
header = "X-Api-Key"
value = "{{api_key}}"

[verify]
path = "/v1/me"

[[fields]]
key = "workspace"
label = "Workspace"
required = false

[[fields]]
key = "api_key"
label = "API key"
type = "password"
secret = true
"""
    )
    return str(folder)


@pytest.fixture
async def setup(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> Setup:
    app = await start_fake(FakeKeyApp({GOOD_KEY}))
    http = await make_client(
        catalog_overrides=_override(tmp_path, app.url),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
    )
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    created = await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": USER})
    assert created.status in (200, 201), created.body
    return Setup(acme, app)


def _body(key: str = GOOD_KEY, **extra: Any) -> dict[str, Any]:
    return {
        "linked_account_id": USER,
        "app": "keyed",
        "fields": {"api_key": key, "workspace": "north"},
        **extra,
    }


async def test_a_key_based_app_connects_with_its_fields(setup: Setup, pool: db.Pool) -> None:
    created = await setup.acme.call("POST", "/v1/connections", _body())
    assert created.status == 201, created.body
    assert created.body["app"] == "keyed"
    assert created.body["linked_account_id"] == USER
    assert created.body["status"] == "active"
    assert created.body["fields"] == {"workspace": "north"}  # the key is not shown
    assert GOOD_KEY not in str(created.body)
    assert setup.app.keys_seen == [GOOD_KEY]  # verified with the app first

    row = await pool.fetchrow("SELECT credentials, fields FROM connections")
    assert row is not None
    assert GOOD_KEY.encode() not in row["credentials"]  # sealed
    assert row["fields"] == {"workspace": "north"}

    # It is usable at once: listed, and a second call makes a second connection.
    again = await setup.acme.call("POST", "/v1/connections", _body())
    assert again.status == 201
    listed = await setup.acme.call(
        "GET", "/v1/connections", params={"linked_account_id": USER, "app": "keyed"}
    )
    assert sorted(c["id"] for c in listed.body["data"]) == sorted(
        [created.body["id"], again.body["id"]]
    )


async def test_connection_created_is_announced(setup: Setup, pool: db.Pool) -> None:
    endpoint = await setup.acme.call(
        "POST", "/v1/webhook-endpoints", {"url": "https://hooks.acme.test/linkport"}
    )
    assert endpoint.status == 201, endpoint.body
    created = await setup.acme.call("POST", "/v1/connections", _body())
    assert created.status == 201
    messages = await pool.fetch("SELECT type, payload FROM webhook_messages")
    assert [(m["type"], m["payload"]["data"]["connection_id"]) for m in messages] == [
        ("connection.created", created.body["id"])
    ]
    assert GOOD_KEY not in str(messages[0]["payload"])


async def test_a_wrong_key_is_rejected_naming_the_app(setup: Setup, pool: db.Pool) -> None:
    refused = await setup.acme.call("POST", "/v1/connections", _body(BAD_KEY))
    assert refused.status == 422, refused.body
    assert refused.body["error"]["code"] == "credentials_rejected"
    assert refused.body["error"]["field"] == "fields.api_key"
    assert "Keyed CRM" in refused.body["error"]["message"]
    assert BAD_KEY not in str(refused.body)
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_an_app_that_cannot_be_asked_is_a_clear_502(setup: Setup, pool: db.Pool) -> None:
    setup.app.down = True
    unavailable = await setup.acme.call("POST", "/v1/connections", _body())
    assert unavailable.status == 502, unavailable.body
    assert unavailable.body["error"]["code"] == "bad_gateway"
    assert "Keyed CRM" in unavailable.body["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_fields_are_checked_against_the_catalog(setup: Setup) -> None:
    missing = await setup.acme.call(
        "POST", "/v1/connections", {"linked_account_id": USER, "app": "keyed", "fields": {}}
    )
    assert missing.status == 422
    assert missing.body["error"]["field"] == "fields.api_key"
    unknown = await setup.acme.call(
        "POST",
        "/v1/connections",
        {**_body(), "fields": {"api_key": GOOD_KEY, "password": "x"}},
    )
    assert unknown.status == 422
    assert unknown.body["error"]["field"] == "fields.password"
    assert setup.app.keys_seen == []  # nothing was sent to the app


async def test_apps_and_accounts_that_cannot_be_connected(setup: Setup, pool: db.Pool) -> None:
    acme = setup.acme
    oauth = await acme.call("POST", "/v1/connections", {**_body(), "app": "sandbox"})
    assert oauth.status == 422
    assert "/v1/connect/oauth-url" in oauth.body["error"]["message"]

    unknown_app = await acme.call("POST", "/v1/connections", {**_body(), "app": "nope"})
    assert unknown_app.status == 404
    assert unknown_app.body["error"]["field"] == "app"

    assert (await acme.call("PUT", "/v1/apps/keyed", {"enabled": False})).status == 200
    disabled = await acme.call("POST", "/v1/connections", _body())
    assert disabled.status == 422
    assert disabled.body["error"]["field"] == "app"
    assert (await acme.call("PUT", "/v1/apps/keyed", {"enabled": True})).status == 200

    no_account = await acme.call("POST", "/v1/connections", _body(linked_account_id="nobody"))
    assert no_account.status == 404
    assert no_account.body["error"]["field"] == "linked_account_id"

    globex = await Api.for_credentials(
        acme.http, pool, await clients.create_client(pool, name="Globex", environment="test")
    )
    other_tenant = await globex.call("POST", "/v1/connections", _body())
    assert other_tenant.status == 404  # acme's account is not globex's
    assert setup.app.keys_seen == []
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_a_session_token_cannot_connect_headless(setup: Setup) -> None:
    issued = await setup.acme.call("POST", "/v1/session-tokens", {"linked_account_id": USER})
    refused = await setup.acme.call(
        "POST",
        "/v1/connections",
        _body(),
        auth="none",
        headers={"Authorization": f"Bearer {issued.body['token']}"},
    )
    assert refused.status in (401, 403), refused.body
