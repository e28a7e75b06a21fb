"""The hosted Link flow (a browser with a cookie jar, no JavaScript) through providers with
quirks: SMART on FHIR discovery and ``aud``, PKCE with client_secret_basic and a JSON token
request, fields learned from the token answer and the callback, a Withings-like wrapped token
answer, and Slack-like ``ok: false`` refusals. Test-only catalog entries describe them; the
generic fake provider plays each from its entry."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.gateway.appkeys import RESOURCES
from shared.connections.credentials import CredentialSource
from shared.connections.revocation import revoke_owed
from shared.infra import db
from tests.fakes.server import StartFake
from tests.helpers import AppFactory
from tests.link_browser import Browser, Page, link_token, open_link, shown_public_token
from tests.oauth_fixtures import (
    OAuthWorld,
    credentials_for_use,
    enable,
    expire_stored_token,
    oauth_world,
    stored_credentials,
)

SMART_EMR = """
name = "Test FHIR EMR"
description = "A SMART on FHIR EMR (test only)."
categories = ["emr"]
auth_kind = "oauth2"
api_base_url = "{fhir_base_url}"

[oauth]
authorize_url = "https://emr.example/oauth2/authorize"
token_url = "https://emr.example/oauth2/token"
scopes = ["launch/patient", "patient/*.read", "offline_access"]
pkce = true
refresh_rotates = true
smart_discovery = true
authorization_params = { aud = "{fhir_base_url}" }

[[fields]]
key = "fhir_base_url"
label = "FHIR base URL"
type = "url"
"""

QUIRKY = """
name = "Quirky CRM"
description = "JSON token requests, fields from the token answer and callback (test only)."
categories = ["crm"]
auth_kind = "oauth2"
api_base_url = "{instance_url}/v1"

[oauth]
authorize_url = "https://login.quirky.example/authorize"
token_url = "https://login.quirky.example/token"
scopes = ["contacts", "offline"]
pkce = true
token_auth = "client_secret_basic"
token_request_format = "json"
authorization_params = { prompt = "consent", access_type = "offline" }
token_fields = { instance_url = "instance_url", team_id = "team.id" }
callback_fields = { realm_id = "realmId" }
account_id_field = "user.id"
"""

WRAPPED = """
name = "Wrapped Health"
description = "Withings-like: tokens inside the answer's body (test only)."
categories = ["wearables"]
auth_kind = "oauth2"
api_base_url = "https://wbsapi.wrapped.example"

[oauth]
authorize_url = "https://account.wrapped.example/oauth2_user/authorize2"
token_url = "https://wbsapi.wrapped.example/v2/oauth2"
scopes = ["user.info", "user.metrics"]
scope_separator = ","
pkce = false
token_auth = "client_secret_post"
token_params = { action = "requesttoken" }
token_response_path = "body"
account_id_field = "userid"
refresh_rotates = true
"""

OK_CHAT = """
name = "OK Chat"
description = "Slack-like: refusals are HTTP 200 with ok false (test only)."
categories = ["chat"]
auth_kind = "oauth2"
api_base_url = "https://okchat.example/api"

[oauth]
authorize_url = "https://okchat.example/oauth/v2/authorize"
token_url = "https://okchat.example/api/oauth.v2.access"
scopes = ["chat:write", "channels:read"]
scope_separator = ","
pkce = false
refresh = false
token_auth = "client_secret_post"
token_fields = { team_id = "team.id" }
"""


@pytest.fixture
async def world(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> OAuthWorld:
    world = await oauth_world(
        make_client=make_client,
        pool=pool,
        start_fake=start_fake,
        folder=tmp_path,
        extra_apps={"smartemr": SMART_EMR, "quirky": QUIRKY, "wrapped": WRAPPED, "okchat": OK_CHAT},
    )
    world.fake.error_styles["okchat"] = "ok_false"
    return world


@pytest.fixture
async def browser(world: OAuthWorld) -> AsyncIterator[Browser]:
    b = Browser(str(world.http.make_url("/")))
    yield b
    await b.close()


async def to_provider(
    world: OAuthWorld, browser: Browser, slug: str, fields: dict[str, str] | None = None
) -> Page:
    """An EMR link token opened in the browser, the app chosen (its fields typed): the
    redirect to the provider's authorization URL."""
    await enable(world, slug)
    picker = await open_link(browser, await link_token(world.acme))
    csrf = picker.hidden_fields()["csrf"]
    page = await browser.post(f"/link/session/apps/{slug}", {"csrf": csrf})
    if fields is not None:
        assert page.status == 200, page.text  # the fields form
        page = await browser.post(
            f"/link/session/apps/{slug}", {"csrf": csrf, "submitted": "1", **fields}
        )
    return page


async def consent(browser: Browser, redirect: Page) -> Page:
    """The provider consents: its redirect back to Linkport's callback."""
    assert redirect.status == 303, redirect.text
    back = await browser.get(redirect.location or "")
    assert back.status == 302, back.text
    assert "error" not in back.query, back.query
    return back


async def connection_of(pool: db.Pool) -> tuple[str, dict[str, str], str | None]:
    row = await pool.fetchrow("SELECT id, fields, provider_account_id FROM connections")
    assert row is not None
    return str(row["id"]), row["fields"], row["provider_account_id"]


async def test_smart_on_fhir_discovers_its_endpoints_and_sends_aud(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    fhir = f"{world.fake.url}/smartemr/api/fhir/r4"
    world.fake.smart["smartemr"] = True
    redirect = await to_provider(world, browser, "smartemr", {"fhir_base_url": fhir})

    assert redirect.location is not None
    assert redirect.location.startswith(f"{world.fake.url}/smartemr/smart/authorize?")
    assert redirect.query["aud"] == fhir
    assert redirect.query["code_challenge_method"] == "S256"
    back = await consent(browser, redirect)
    done = await browser.get(back.location or "")
    assert done.status == 200, done.text
    shown_public_token(done)

    provider = world.fake.state("smartemr")
    assert provider.discovered_token_calls == 1  # the discovered token endpoint, not the TOML's
    connection_id, fields, _ = await connection_of(pool)
    assert fields == {"fhir_base_url": fhir}
    creds = await stored_credentials(world, connection_id)
    assert creds["token_url"] == f"{world.fake.url}/smartemr/smart/token"
    assert creds["revoke_url"] == f"{world.fake.url}/smartemr/smart/revoke"

    # Refreshing uses the endpoint the connection was made with; the rotated token is kept.
    await expire_stored_token(world, connection_id)
    fresh = await credentials_for_use(world, connection_id)
    assert provider.discovered_token_calls == 2
    assert fresh["refresh_token"] != creds["refresh_token"]
    assert creds["refresh_token"] not in provider.refresh_tokens

    # Deleting the connection revokes its grant at the endpoint the server published.
    deleted = await world.acme.call("DELETE", f"/v1/connections/{connection_id}")
    assert deleted.status == 200, deleted.body
    res = world.http.app[RESOURCES]
    source = CredentialSource(res.pool, res.redis, res.keyring, res.catalog, res.http, res.settings)
    assert await revoke_owed(source) == {"revoked": 1}
    [revoked] = provider.revocations
    assert revoked.path == "/smartemr/smart/revoke"
    assert revoked.params["token"] == fresh["refresh_token"]
    assert fresh["refresh_token"] not in provider.refresh_tokens


async def test_smart_without_a_configuration_document_uses_the_catalog_endpoints(
    world: OAuthWorld, browser: Browser
) -> None:
    fhir = f"{world.fake.url}/smartemr/api/fhir/r4"
    redirect = await to_provider(world, browser, "smartemr", {"fhir_base_url": fhir})

    assert redirect.location is not None
    assert redirect.location.startswith(f"{world.fake.url}/smartemr/oauth/authorize?")
    assert redirect.query["aud"] == fhir
    back = await consent(browser, redirect)
    done = await browser.get(back.location or "")
    assert done.status == 200
    provider = world.fake.state("smartemr")
    assert (provider.token_calls["authorization_code"], provider.discovered_token_calls) == (1, 0)


async def test_an_unreachable_fhir_server_is_a_clear_page_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    page = await to_provider(world, browser, "smartemr", {"fhir_base_url": "http://127.0.0.1:1/r4"})

    assert page.status == 400
    assert "smart_discovery_failed" in page.text
    assert "check the address" in page.text
    assert world.fake.state("smartemr").authorize_requests == []
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_pkce_basic_auth_json_token_request_and_learned_fields(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    redirect = await to_provider(world, browser, "quirky")
    assert redirect.location is not None
    assert redirect.query["scope"] == "contacts offline"
    assert (redirect.query["prompt"], redirect.query["access_type"]) == ("consent", "offline")
    back = await consent(browser, redirect)
    assert back.query["realmId"] == "fake-realm_id"
    done = await browser.get(back.location or "")
    assert done.status == 200, done.text

    [exchange] = world.fake.state("quirky").token_requests
    pair = base64.b64encode(f"{world.fake.client_id}:{world.fake.client_secret}".encode())
    assert exchange.authorization == f"Basic {pair.decode()}"
    assert "client_secret" not in exchange.params
    assert exchange.params["code_verifier"]
    assert exchange.params["redirect_uri"] == world.callback_url
    _, fields, account_id = await connection_of(pool)
    assert fields == {
        "instance_url": f"{world.fake.url}/quirky/api",
        "team_id": "fake-team_id",
        "realm_id": "fake-realm_id",
    }
    assert account_id is not None
    assert account_id.startswith("acct-quirky-")


async def test_a_wrapped_token_answer_connects_and_its_refusal_is_an_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await world.acme.call("PATCH", "/v1/settings", {"callback_url": "https://acme.test/cb"})
    redirect = await to_provider(world, browser, "wrapped")
    assert redirect.query["scope"] == "user.info,user.metrics"
    back = await consent(browser, redirect)
    done = await browser.get(back.location or "")
    assert done.status == 303
    assert (done.location or "").startswith("https://acme.test/cb?token=pt_")

    [exchange] = world.fake.state("wrapped").token_requests
    assert exchange.params["action"] == "requesttoken"
    assert exchange.params["client_secret"] == world.fake.client_secret
    assert exchange.authorization is None
    connection_id, _, account_id = await connection_of(pool)
    assert (account_id or "").startswith("acct-wrapped-")
    creds = await stored_credentials(world, connection_id)
    assert creds["access_token"] in world.fake.apps["wrapped"].valid_credentials
    assert creds["expires_at"] is not None

    # Withings answers a bad code with HTTP 200 {"status": 503, "error": "Invalid Params: …"}.
    browser2 = Browser(browser.base_url)
    try:
        redirect = await to_provider(world, browser2, "wrapped")
        back = await consent(browser2, redirect)
        assert back.location is not None
        refused = await browser2.get(back.location.replace(back.query["code"], "nope"))
    finally:
        await browser2.close()
    assert refused.status == 303
    assert (refused.location or "").startswith(
        "https://acme.test/cb?error=oauth_token_failed&error_description="
    )
    assert "provider_error" in (refused.location or "")


async def test_an_ok_false_refusal_ends_the_flow_in_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    redirect = await to_provider(world, browser, "okchat")
    assert redirect.query["scope"] == "chat:write,channels:read"
    back = await consent(browser, redirect)
    assert back.location is not None
    page = await browser.get(back.location.replace(back.query["code"], "nope"))

    assert page.status == 200
    assert "oauth_token_failed" in page.text
    assert "invalid_code" in page.text
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_an_ok_chat_connection_learns_its_team(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    back = await consent(browser, await to_provider(world, browser, "okchat"))
    done = await browser.get(back.location or "")
    assert done.status == 200, done.text
    _, fields, _ = await connection_of(pool)
    assert fields == {"team_id": "fake-team_id"}


async def test_a_state_from_another_browser_session_is_refused(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    back = await consent(browser, await to_provider(world, browser, "quirky"))
    intruder = Browser(browser.base_url)
    try:
        await open_link(intruder, await link_token(world.acme))
        page = await intruder.get(back.location or "")
    finally:
        await intruder.close()
    assert page.status == 400
    assert "oauth_state_mismatch" in page.text
    # The state was used up by the attempt: the rightful browser must start again.
    again = await browser.get(back.location or "")
    assert again.status == 400
    assert "oauth_state_invalid" in again.text
    assert world.fake.state("quirky").token_requests == []
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


async def test_a_smart_server_without_pkce_s256_is_refused_headless_too(
    world: OAuthWorld, browser: Browser
) -> None:
    fhir = f"{world.fake.url}/smartemr/api/fhir/r4"
    world.fake.smart["smartemr"] = True
    world.fake.smart_overrides["smartemr"] = {"code_challenge_methods_supported": ["plain"]}

    page = await to_provider(world, browser, "smartemr", {"fhir_base_url": fhir})
    assert page.status == 400
    assert "does not support PKCE with S256" in page.text

    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    headless = await world.acme.call(
        "POST",
        "/v1/connect/oauth-url",
        {"linked_account_id": "user-1", "app": "smartemr", "fields": {"fhir_base_url": fhir}},
    )
    assert (headless.status, headless.body["error"]["field"]) == (422, "fields")
    assert "S256" in headless.body["error"]["message"]
    assert world.fake.state("smartemr").authorize_requests == []
