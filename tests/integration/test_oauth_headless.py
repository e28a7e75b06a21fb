"""Headless OAuth connect (README "Headless OAuth connect"): a backend with its own UI asks
``POST /v1/connect/oauth-url`` for an app's authorization URL, sends its user there, and
gets the browser back at its redirect URL with the new connection's id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.clients import store as clients
from shared.infra import db
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory, Reply
from tests.link_browser import Browser, Page
from tests.oauth_fixtures import REDIRECT, OAuthWorld, enable, oauth_world

APP = "fitbit"


@pytest.fixture
async def world(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> OAuthWorld:
    world = await oauth_world(
        make_client=make_client, pool=pool, start_fake=start_fake, folder=tmp_path
    )
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    return world


@pytest.fixture
async def browser(world: OAuthWorld) -> AsyncIterator[Browser]:
    b = Browser(str(world.http.make_url("/")))
    yield b
    await b.close()


async def oauth_url(api: Api, **body: Any) -> Reply:
    return await api.call(
        "POST", "/v1/connect/oauth-url", {"linked_account_id": "user-1", "app": APP, **body}
    )


def query_of(url: str | None) -> dict[str, str]:
    assert url is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def consent(world: OAuthWorld, browser: Browser, authorize_url: str) -> Page:
    back = await browser.get(authorize_url)
    assert back.status == 302, back.text
    assert (back.location or "").startswith(world.callback_url + "?")
    return back


async def test_the_callback_connects_and_redirects_with_the_connection_id(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await enable(world, APP)
    hook = await world.acme.call(
        "POST", "/v1/webhook-endpoints", {"url": "https://hooks.acme.test/linkport"}
    )
    assert hook.status == 201, hook.body
    created = await oauth_url(world.acme, redirect_url=REDIRECT)
    assert created.status == 201, created.body
    assert created.body["authorize_url"].startswith(f"{world.fake.url}/{APP}/oauth/authorize?")
    expires_at = datetime.fromisoformat(created.body["state_expires_at"])
    assert timedelta(minutes=9) < expires_at - datetime.now(UTC) <= timedelta(minutes=10)

    back = await consent(world, browser, created.body["authorize_url"])
    final = await browser.get(back.location or "")

    assert final.status == 303
    assert (final.location or "").startswith(REDIRECT + "?")
    params = query_of(final.location)
    assert params["status"] == "success"
    connection = await world.acme.call("GET", f"/v1/connections/{params['connection_id']}")
    assert connection.status == 200
    assert (connection.body["app"], connection.body["linked_account_id"]) == (APP, "user-1")
    assert "token" not in params  # no public token: the backend reads the connection
    announced = await pool.fetch("SELECT type, payload FROM webhook_messages")
    assert [(m["type"], m["payload"]["data"]["connection_id"]) for m in announced] == [
        ("connection.created", params["connection_id"])
    ]

    # The state works once.
    replay = await browser.get(back.location or "")
    assert replay.status == 400
    assert "oauth_state_invalid" in replay.text
    assert world.fake.state(APP).token_calls["authorization_code"] == 1


async def test_without_a_redirect_url_the_flow_ends_on_linkports_page(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await enable(world, APP)
    # The client's callback_url is for link tokens' flows; headless ends on the done page.
    await world.acme.call("PATCH", "/v1/settings", {"callback_url": "https://acme.test/cb"})
    created = await oauth_url(world.acme)
    back = await consent(world, browser, created.body["authorize_url"])
    done = await browser.get(back.location or "")

    assert done.status == 200, done.text
    assert 'id="public-token"' not in done.text
    assert await pool.fetchval("SELECT count(*) FROM connections") == 1


async def test_a_declined_consent_redirects_with_the_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await enable(world, APP)
    created = await oauth_url(world.acme, redirect_url=REDIRECT)
    state = query_of(created.body["authorize_url"])["state"]

    final = await browser.get(f"/link/oauth/callback?error=access_denied&state={state}")

    assert final.status == 303
    params = query_of(final.location)
    assert params["error"] == "oauth_denied"
    assert params["error_description"] == "You declined access."
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_connection_id_reauthorises_that_connection(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await enable(world, APP)
    first = await oauth_url(world.acme, redirect_url=REDIRECT)
    back = await consent(world, browser, first.body["authorize_url"])
    connection_id = query_of((await browser.get(back.location or "")).location)["connection_id"]

    again = await oauth_url(world.acme, redirect_url=REDIRECT, connection_id=connection_id)
    assert again.status == 201, again.body
    back = await consent(world, browser, again.body["authorize_url"])
    final = await browser.get(back.location or "")

    assert query_of(final.location)["connection_id"] == connection_id
    assert await pool.fetchval("SELECT count(*) FROM connections") == 1
    assert world.fake.state(APP).token_calls["authorization_code"] == 2


async def test_the_request_is_checked(world: OAuthWorld, pool: db.Pool) -> None:
    await enable(world, APP)
    unknown_app = await oauth_url(world.acme, app="no-such-app")
    assert (unknown_app.status, unknown_app.body["error"]["field"]) == (404, "app")

    key_based = await oauth_url(world.acme, app="sandbox_apikey")
    assert key_based.status == 422
    assert "api_key" in key_based.body["error"]["message"]

    bad_redirect = await oauth_url(world.acme, redirect_url="https://evil.test/steal")
    assert (bad_redirect.status, bad_redirect.body["error"]["field"]) == (422, "redirect_url")

    unknown_field = await oauth_url(world.acme, fields={"tenant": "x"})
    assert (unknown_field.status, unknown_field.body["error"]["field"]) == (422, "fields.tenant")

    unknown_account = await oauth_url(world.acme, linked_account_id="nobody")
    assert unknown_account.status == 404

    globex = await Api.for_credentials(
        world.http, pool, await clients.create_client(pool, name="Globex", environment="test")
    )
    await globex.call("POST", "/v1/linked-accounts", {"linked_account_id": "bob"})
    others = await oauth_url(world.acme, linked_account_id="bob")
    assert (others.status, others.body["error"]["field"]) == (404, "linked_account_id")

    not_a_connection = await oauth_url(
        world.acme, connection_id="6f1c1d9e-0000-4000-8000-000000000000"
    )
    assert (not_a_connection.status, not_a_connection.body["error"]["field"]) == (
        404,
        "connection_id",
    )


async def test_an_app_not_enabled_or_without_an_oauth_client_is_refused(
    world: OAuthWorld,
) -> None:
    disabled = await oauth_url(world.acme)
    assert (disabled.status, disabled.body["error"]["code"]) == (400, "app_not_offered")

    enabled = await world.acme.call("PUT", f"/v1/apps/{APP}", {"enabled": True})
    assert enabled.status == 200
    no_client = await oauth_url(world.acme)
    assert no_client.status == 422
    assert "OAuth client" in no_client.body["error"]["message"]


async def test_secret_key_authentication_is_required(world: OAuthWorld) -> None:
    await enable(world, APP)
    anonymous = await world.acme.call(
        "POST",
        "/v1/connect/oauth-url",
        {"linked_account_id": "user-1", "app": APP},
        auth="none",
    )
    assert anonymous.status == 401


async def test_an_account_deleted_meanwhile_ends_the_flow_in_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await enable(world, APP)
    created = await oauth_url(world.acme, redirect_url=REDIRECT)
    back = await consent(world, browser, created.body["authorize_url"])
    deleted = await world.acme.call("DELETE", "/v1/linked-accounts/user-1")
    assert deleted.status in (200, 204), deleted.body
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})

    final = await browser.get(back.location or "")

    assert query_of(final.location).get("error") == "connection_gone", final.location
    assert world.fake.state(APP).token_calls["authorization_code"] == 0
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0
