"""The hosted Link flow end to end over HTTP, with a cookie jar and the sandbox provider."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from services.gateway.appkeys import RESOURCES
from shared.clients import store as clients
from shared.config import Settings
from shared.connections.credentials import connection_binding
from shared.infra import db, redis_keys, tokens
from shared.infra.crypto import DecryptionFailed, Keyring, Sealed, generate_key
from shared.infra.tokens import TokenKind
from tests.helpers import Api, AppFactory, eventually
from tests.link_browser import (
    EMR_LINK,
    Browser,
    link_token,
    open_link,
    run_flow,
    shown_public_token,
    sign_in,
    start_sandbox_oauth,
)


@pytest.fixture
async def browser(acme: Api) -> AsyncIterator[Browser]:
    """A fresh browser pointed at the gateway."""
    b = Browser(str(acme.http.make_url("/")))
    yield b
    await b.close()


async def test_full_flow_from_link_token_to_listed_connection(
    acme: Api, browser: Browser, pool: db.Pool
) -> None:
    picker = await open_link(browser, await link_token(acme))
    assert picker.status == 200
    assert "Acme" in picker.text
    assert "Sandbox CRM" in picker.text
    assert 'src="/static/logos/sandbox.svg"' in picker.text
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    assert back.status == 303
    assert back.location is not None
    assert "/link/oauth/callback?" in back.location
    done = await browser.follow(back)
    assert done.status == 200
    public_token = shown_public_token(done)

    exchanged = await acme.call(
        "POST", "/link/token/exchange", {"public_token": public_token}, auth="secret"
    )
    assert exchanged.status == 200
    assert exchanged.body["success"] is True
    assert exchanged.body["access_token"].startswith("at_")
    assert exchanged.body["user_id"] == "user_12345"
    assert exchanged.body["org_id"] == "org_67890"
    assert exchanged.body["app"] == "sandbox"

    listed = await acme.call("GET", "/v1/connections", params={"linked_account_id": "user_12345"})
    assert [(c["id"], c["app"], c["status"]) for c in listed.body["data"]] == [
        (exchanged.body["connection_id"], "sandbox", "active")
    ]
    one = await acme.call("GET", f"/v1/connections/{exchanged.body['connection_id']}")
    assert one.status == 200
    assert one.body["credentials_expires_at"] is not None
    stored = await pool.fetchval("SELECT access_token_hash FROM connections")
    assert stored == tokens.digest(exchanged.body["access_token"])


async def test_flow_redirects_to_the_allow_listed_redirect_url(acme: Api, browser: Browser) -> None:
    await acme.call(
        "PATCH", "/v1/settings", {"allowed_redirect_urls": ["https://app.acme.test/linked"]}
    )
    reply = await acme.call(
        "POST",
        "/v2/link/token",
        {"user_id": "u1", "redirect_url": "https://app.acme.test/linked?step=2"},
    )
    picker = await open_link(browser, reply.body["link_token"])
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    final = await browser.get(back.location or "")  # the callback answers with the redirect
    assert final.status == 303
    assert final.location is not None
    assert final.location.startswith("https://app.acme.test/linked?step=2&token=pt_")
    assert (
        await acme.call("POST", "/link/token/exchange", {"public_token": final.query["token"]})
    ).status == 200


async def test_flow_redirects_to_the_callback_url_with_the_seed_shape(
    acme: Api, browser: Browser
) -> None:
    await acme.call("PATCH", "/v1/settings", {"callback_url": "https://acme.test/callback"})
    picker = await open_link(browser, await link_token(acme))
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    assert back.location is not None
    final = await browser.get(back.location)
    assert final.status == 303
    assert final.location is not None
    assert re.fullmatch(r"https://acme\.test/callback\?token=pt_[A-Za-z0-9_-]+", final.location)


async def test_replayed_link_token_gets_an_error_page(acme: Api, browser: Browser) -> None:
    token = await link_token(acme)
    await open_link(browser, token)
    again = await browser.get(f"/link?token={token}")
    assert again.status == 410
    assert "link_token_invalid" in again.text
    assert "text/html" not in again.text  # a page, not a stack trace
    unknown = await browser.get("/link?token=lt_nope")
    assert unknown.status == 410
    missing = await browser.get("/link")
    assert missing.status == 410


async def test_page_without_a_session_is_a_clear_error(browser: Browser) -> None:
    page = await browser.get("/link/session")
    assert page.status == 400
    assert "session_expired" in page.text


async def test_wrong_state_is_refused(acme: Api, browser: Browser) -> None:
    await open_link(browser, await link_token(acme))
    page = await browser.get("/link/oauth/callback?code=abc&state=forged")
    assert page.status == 400
    assert "oauth_state_invalid" in page.text


async def test_state_from_another_browser_is_refused(acme: Api, browser: Browser) -> None:
    picker = await open_link(browser, await link_token(acme))
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    assert back.location is not None
    intruder = Browser(browser.base_url)
    try:
        await open_link(intruder, await link_token(acme, {"user_id": "mallory", "org_id": "o"}))
        page = await intruder.get(back.location)
        assert page.status == 400
        assert "oauth_state_mismatch" in page.text
    finally:
        await intruder.close()


async def test_oauth_code_and_callback_cannot_be_reused(acme: Api, browser: Browser) -> None:
    picker = await open_link(browser, await link_token(acme))
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    assert back.location is not None
    code = back.query["code"]
    done = await browser.get(back.location)
    assert done.status == 200
    replay = await browser.get(back.location)
    assert replay.status == 400
    assert "oauth_state_invalid" in replay.text
    settings = acme.http.app[RESOURCES].settings
    credentials = base64.b64encode(
        f"{settings.sandbox_client_id}:{settings.sandbox_client_secret}".encode()
    )
    async with acme.http.post(
        "/sandbox/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": back.query.get("redirect_uri", ""),
        },
        headers={"Authorization": f"Basic {credentials.decode()}"},
    ) as reply:
        assert reply.status == 400
        assert (await reply.json())["error"] == "invalid_grant"


async def test_bad_sandbox_password_is_refused_without_a_code(acme: Api, browser: Browser) -> None:
    picker = await open_link(browser, await link_token(acme))
    login = await start_sandbox_oauth(browser, picker)
    refused = await sign_in(browser, login, password="pass_bad")
    assert refused.status == 401
    assert refused.location is None
    assert "Wrong username or password" in refused.text
    retried = await sign_in(browser, refused)
    assert retried.status == 303
    assert "code=" in (retried.location or "")


async def test_cancel_tells_the_client(acme: Api, browser: Browser) -> None:
    await acme.call("PATCH", "/v1/settings", {"callback_url": "https://acme.test/callback"})
    picker = await open_link(browser, await link_token(acme))
    cancelled = await browser.post("/link/session/cancel", {"csrf": picker.hidden_fields()["csrf"]})
    assert cancelled.status == 303
    assert cancelled.location is not None
    assert cancelled.location.startswith("https://acme.test/callback?error=user_cancelled")
    assert (await browser.get("/link/session")).status == 400  # the session is over


async def test_cancel_without_a_redirect_url_ends_on_a_page(acme: Api, browser: Browser) -> None:
    picker = await open_link(browser, await link_token(acme))
    page = await browser.post("/link/session/cancel", {"csrf": picker.hidden_fields()["csrf"]})
    assert page.status == 200
    assert "user_cancelled" in page.text


async def test_denying_at_the_provider_ends_the_flow_cleanly(acme: Api, browser: Browser) -> None:
    picker = await open_link(browser, await link_token(acme))
    login = await start_sandbox_oauth(browser, picker)
    denied = await sign_in(browser, login, action="cancel")
    assert denied.status == 303
    assert "error=access_denied" in (denied.location or "")
    page = await browser.follow(denied)
    assert page.status == 200
    assert "oauth_denied" in page.text
    assert (await acme.call("GET", "/v1/connections")).body["data"] == []


async def test_forms_need_the_session_csrf(acme: Api, browser: Browser) -> None:
    await open_link(browser, await link_token(acme))
    forged = await browser.post("/link/session/apps/sandbox", {"csrf": "forged"})
    assert forged.status == 403


async def test_replayed_public_token_is_refused(acme: Api, browser: Browser) -> None:
    public_token = shown_public_token(await run_flow(browser, await link_token(acme)))
    first = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert first.status == 200
    second = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert second.status == 400
    assert second.body["error"]["code"] == "invalid_public_token"
    assert second.body["error"]["field"] == "public_token"


async def test_twenty_concurrent_exchanges_give_one_access_token(
    acme: Api, browser: Browser
) -> None:
    public_token = shown_public_token(await run_flow(browser, await link_token(acme)))
    replies = await asyncio.gather(
        *(
            acme.call("POST", "/v1/link/token/exchange", {"public_token": public_token})
            for _ in range(20)
        )
    )
    assert sorted(r.status for r in replies) == [200] + [400] * 19


async def test_another_tenant_cannot_exchange_a_public_token(
    acme: Api, globex: Api, browser: Browser
) -> None:
    public_token = shown_public_token(await run_flow(browser, await link_token(acme)))
    stolen = await globex.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert stolen.status == 400


async def test_update_mode_reauthorises_the_same_connection(
    acme: Api, browser: Browser, pool: db.Pool
) -> None:
    public_token = shown_public_token(await run_flow(browser, await link_token(acme)))
    exchanged = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    connection_id = exchanged.body["connection_id"]
    await pool.execute("UPDATE connections SET status = 'needs_reauth', status_reason = 'revoked'")
    before = await pool.fetchval("SELECT credentials FROM connections")

    update_token = await link_token(
        acme, {**EMR_LINK, "access_token": exchanged.body["access_token"]}
    )
    opened = await browser.get(f"/link?token={update_token}")
    session_page = await browser.get(opened.location or "")
    assert session_page.status == 303  # straight to the one app being re-authorised
    assert (session_page.location or "").endswith("/link/session/apps/sandbox")
    app_page = await browser.get(session_page.location or "")
    to_provider = await browser.post(
        "/link/session/apps/sandbox", {"csrf": app_page.hidden_fields()["csrf"], "submitted": "1"}
    )
    login = await browser.get(to_provider.location or "")
    done = await browser.follow(await sign_in(browser, login))
    assert done.status == 200
    rows = await pool.fetch("SELECT id, status, credentials FROM connections")
    assert len(rows) == 1
    assert str(rows[0]["id"]) == connection_id
    assert rows[0]["status"] == "active"
    assert rows[0]["credentials"] != before


async def test_credentials_are_unreadable_without_the_key(
    acme: Api, browser: Browser, pool: db.Pool, settings: Settings
) -> None:
    await run_flow(browser, await link_token(acme))
    row = await pool.fetchrow("SELECT * FROM connections")
    assert row is not None
    sealed = Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"])
    assert sealed.key_id == "k1"
    dump = (await pool.fetchval("SELECT row_to_json(c)::text FROM connections c")).lower()
    assert "sbx_at_" not in dump
    assert "sbx_rt_" not in dump
    assert '"access_token":' not in dump  # the credentials' JSON is not there in clear

    keyring = Keyring.from_settings(settings)
    opened = orjson.loads(keyring.open(sealed, bound_to=connection_binding(row["id"])))
    assert opened["access_token"].startswith("sbx_at_")
    assert opened["refresh_token"].startswith("sbx_rt_")
    with pytest.raises(DecryptionFailed):
        Keyring.from_settings(settings.model_copy(update={"encryption_key": generate_key()})).open(
            sealed, bound_to=connection_binding(row["id"])
        )
    with pytest.raises(DecryptionFailed):  # bound to its row: copied elsewhere it does not open
        keyring.open(sealed, bound_to=connection_binding("another-row"))


async def test_api_key_app_uses_a_form(
    acme: Api, browser: Browser, pool: db.Pool, settings: Settings
) -> None:
    picker = await open_link(browser, await link_token(acme))
    csrf = picker.hidden_fields()["csrf"]
    form = await browser.post("/link/session/apps/sandbox_apikey", {"csrf": csrf})
    assert form.status == 200
    assert 'name="api_key"' in form.text
    empty = await browser.post(
        "/link/session/apps/sandbox_apikey", {"csrf": csrf, "submitted": "1", "api_key": ""}
    )
    assert empty.status == 200
    assert "API key is required" in empty.text
    done = await browser.post(
        "/link/session/apps/sandbox_apikey",
        {"csrf": csrf, "submitted": "1", "api_key": "helpdesk-secret-123"},
    )
    assert done.status == 200
    public_token = shown_public_token(done)
    exchanged = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert exchanged.body["app"] == "sandbox_apikey"
    row = await pool.fetchrow("SELECT * FROM connections WHERE app = 'sandbox_apikey'")
    assert row is not None
    assert b"helpdesk-secret-123" not in row["credentials"]
    sealed = Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"])
    opened = orjson.loads(
        Keyring.from_settings(settings).open(sealed, bound_to=connection_binding(row["id"]))
    )
    assert opened == {"kind": "api_key", "api_key": "helpdesk-secret-123"}


async def test_filters_of_the_link_token_narrow_the_apps(acme: Api, browser: Browser) -> None:
    reply = await acme.call(
        "POST", "/v2/link/token", {"user_id": "u", "filter_on_providers": ["sandbox_apikey"]}
    )
    picker = await open_link(browser, reply.body["link_token"])
    assert "Sandbox Helpdesk" in picker.text
    assert "Sandbox CRM" not in picker.text

    other = Browser(browser.base_url)
    try:
        reply = await acme.call("POST", "/v2/link/token", {"user_id": "u", "provider": "sandbox"})
        opened = await other.get(f"/link?token={reply.body['link_token']}")
        preselected = await other.get(opened.location or "")
        assert preselected.status == 303
        assert (preselected.location or "").endswith("/link/session/apps/sandbox")
    finally:
        await other.close()


async def test_disabled_apps_are_not_offered(acme: Api, browser: Browser) -> None:
    await acme.call("PUT", "/v1/apps/sandbox_apikey", {"enabled": False})
    picker = await open_link(browser, await link_token(acme))
    assert "Sandbox Helpdesk" not in picker.text
    refused = await browser.post(
        "/link/session/apps/sandbox_apikey", {"csrf": picker.hidden_fields()["csrf"]}
    )
    assert refused.status == 400
    assert "app_not_offered" in refused.text


async def test_own_oauth_client_is_used_and_a_wrong_secret_ends_cleanly(
    acme: Api, browser: Browser
) -> None:
    configured = await acme.call(
        "PUT",
        "/v1/apps/sandbox",
        {"oauth_client_id": "acme-own-client", "oauth_client_secret": "wrong"},
    )
    assert configured.status == 200
    assert configured.body["has_own_oauth_client"] is True
    picker = await open_link(browser, await link_token(acme))
    csrf = picker.hidden_fields()["csrf"]
    to_provider = await browser.post("/link/session/apps/sandbox", {"csrf": csrf})
    assert to_provider.query["client_id"] == "acme-own-client"
    login = await browser.get(to_provider.location or "")
    page = await browser.follow(await sign_in(browser, login))
    assert page.status == 200
    assert "oauth_token_failed" in page.text
    assert (await acme.call("GET", "/v1/connections")).body["data"] == []


async def test_app_settings_validation(acme: Api, globex: Api) -> None:
    assert (await acme.call("PUT", "/v1/apps/nope", {"enabled": True})).status == 404
    half = await acme.call("PUT", "/v1/apps/sandbox", {"oauth_client_id": "only-the-id"})
    assert half.status == 422
    key_app = await acme.call(
        "PUT", "/v1/apps/sandbox_apikey", {"oauth_client_id": "x", "oauth_client_secret": "y"}
    )
    assert key_app.status == 422
    enabled = await acme.call("PUT", "/v1/apps/hubspot", {"enabled": True})
    assert enabled.body["enabled"] is True
    listed = {a["slug"] for a in (await acme.call("GET", "/v1/apps")).body["data"]}
    assert listed == {"sandbox", "sandbox_apikey", "hubspot"}
    assert {a["slug"] for a in (await globex.call("GET", "/v1/apps")).body["data"]} == {
        "sandbox",
        "sandbox_apikey",
    }
    catalog = await acme.call("GET", "/v1/catalog")
    assert len(catalog.body["data"]) >= 9


async def test_sandbox_is_off_by_default_in_live(acme: Api, pool: db.Pool) -> None:
    from shared.clients import store as clients

    live = await clients.add_credentials(
        pool, public_client_id=acme.credentials.client_id, environment="live"
    )
    assert live is not None
    live_api = await Api.for_credentials(acme.http, pool, live)
    assert (await live_api.call("GET", "/v1/apps")).body["data"] == []


async def test_emr_name_opens_the_matching_emr_app(acme: Api, browser: Browser) -> None:
    await acme.call("PUT", "/v1/apps/epic", {"enabled": True})
    picker = await open_link(browser, await link_token(acme, {**EMR_LINK, "emr_name": "Epic"}))
    assert "Epic" in picker.text
    assert "Sandbox CRM" not in picker.text
    form = await browser.post("/link/session/apps/epic", {"csrf": picker.hidden_fields()["csrf"]})
    assert 'name="fhir_base_url"' in form.text  # the EMR instance comes first
    bad = await browser.post(
        "/link/session/apps/epic",
        {"csrf": picker.hidden_fields()["csrf"], "submitted": "1", "fhir_base_url": "not a url"},
    )
    assert "must be an http(s) URL" in bad.text


async def test_unknown_emr_name_offers_every_enabled_app(acme: Api, browser: Browser) -> None:
    picker = await open_link(
        browser, await link_token(acme, {**EMR_LINK, "emr_name": "SomethingElse"})
    )
    assert "Sandbox CRM" in picker.text
    assert "Sandbox Helpdesk" in picker.text


async def test_expired_link_token_gets_an_error_page(
    make_client: AppFactory, pool: db.Pool
) -> None:
    from shared.clients import store as clients

    http = await make_client(link_token_ttl=1)
    api = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="A", environment="test")
    )
    token = await link_token(api)
    redis = http.app[RESOURCES].redis
    key = redis_keys.token(TokenKind.LINK, tokens.hex_digest(token))
    await eventually(lambda: redis.exists(key), lambda n: n == 0, timeout=5)
    browser = Browser(str(http.make_url("/")))
    try:
        page = await browser.get(f"/link?token={token}")
        assert page.status == 410
        assert "has expired or has already been used" in page.text
    finally:
        await browser.close()


# An operator's EMR whose OAuth endpoints sit on the instance the end user names (the shipped
# EMRs find theirs by SMART discovery from the FHIR base URL instead).
INSTANCE_EMR = """
name = "Instance EMR"
description = "An EMR whose OAuth endpoints are on the user's instance."
categories = ["emr"]
auth_kind = "oauth2"
api_base_url = "{instance_domain}/api/FHIR/R4"

[oauth]
authorize_url = "{instance_domain}/oauth2/authorize"
token_url = "{instance_domain}/oauth2/token"

[[fields]]
key = "instance_domain"
label = "EMR instance URL"
type = "url"
"""


async def test_token_request_to_an_internal_instance_domain_is_refused(
    make_client: AppFactory, pool: db.Pool, tmp_path: Path
) -> None:
    """An end user types the EMR instance; Linkport's server-side token request must not
    reach internal addresses with it (the check happens before any connection)."""
    (tmp_path / "instance_emr.toml").write_text(INSTANCE_EMR)
    http = await make_client(catalog_overrides=str(tmp_path))
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    await acme.call(
        "PUT",
        "/v1/apps/instance_emr",
        {"enabled": True, "oauth_client_id": "c", "oauth_client_secret": "s"},
    )
    browser = Browser(str(http.make_url("/")))
    try:
        picker = await open_link(
            browser, await link_token(acme, {**EMR_LINK, "emr_name": "Instance EMR"})
        )
        csrf = picker.hidden_fields()["csrf"]
        to_provider = await browser.post(
            "/link/session/apps/instance_emr",
            {"csrf": csrf, "submitted": "1", "instance_domain": "http://169.254.169.254"},
        )
        assert to_provider.status == 303
        assert (to_provider.location or "").startswith(
            "http://169.254.169.254/oauth2/authorize?"
        )  # the browser's business
        state = to_provider.query["state"]
        page = await browser.get(f"/link/oauth/callback?code=anything&state={state}")
    finally:
        await browser.close()
    assert page.status == 200
    assert "oauth_token_failed" in page.text
    assert "blocked_destination" in page.text
