"""The Vital face over plain HTTP: its error bodies, the rules at link-token creation, the
link-token routes, and users as the native API's linked accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.accounts.models import account_uuid
from shared.infra import db
from tests.helpers import Api, Reply
from tests.link_browser import Browser, open_link, sign_in, start_sandbox_oauth

REDIRECT = "https://app.acme.test/vital"


async def vital(
    api: Api, method: str, path: str, json: Any = None, *, link_token: str | None = None
) -> Reply:
    """A call as Vital's SDK makes it: the API key in x-vital-api-key, the link token beside."""
    headers = {"x-vital-api-key": api.credentials.api_key}
    if link_token is not None:
        headers["x-vital-link-token"] = link_token
    return await api.call(method, path, json, auth="none", headers=headers)


async def new_user(api: Api, client_user_id: str = "patient-1") -> str:
    reply = await vital(api, "POST", "/v2/user", {"client_user_id": client_user_id})
    assert reply.status == 200, reply.body
    user_id: str = reply.body["user_id"]
    return user_id


async def new_token(api: Api, user_id: str, **options: Any) -> str:
    reply = await vital(api, "POST", "/v2/link/token", {"user_id": user_id, **options})
    assert reply.status == 200, reply.body
    token: str = reply.body["link_token"]
    return token


@pytest.fixture
async def browser(acme: Api) -> AsyncIterator[Browser]:
    b = Browser(str(acme.http.make_url("/")))
    yield b
    await b.close()


async def test_errors_answer_in_vitals_shape(acme: Api) -> None:
    missing = await vital(acme, "POST", "/v2/user", {})
    assert missing.status == 422
    assert missing.body == {
        "detail": [{"loc": ["body", "client_user_id"], "msg": "field required", "type": "missing"}]
    }
    bad_zone = await vital(
        acme, "POST", "/v2/user", {"client_user_id": "p", "fallback_time_zone": "Mars/Base"}
    )
    assert bad_zone.status == 422
    assert bad_zone.body["detail"][0]["loc"] == ["body", "fallback_time_zone"]

    user_id = await new_user(acme, "p")
    again = await vital(acme, "POST", "/v2/user", {"client_user_id": "p"})
    assert again.status == 400  # not a 409: the SDK would send it twice more
    assert again.body["detail"]["user_id"] == user_id
    assert {"error_type", "error_message", "created_on"} <= set(again.body["detail"])

    assert (await vital(acme, "GET", "/v2/user/not-a-uuid")).body == {"detail": "User not found"}
    unknown = await vital(acme, "GET", "/v2/user/00000000-0000-4000-8000-000000000000")
    assert (unknown.status, unknown.body) == (404, {"detail": "User not found"})
    anonymous = await acme.call("GET", "/v2/user", auth="none")
    assert anonymous.status == 401
    assert set(anonymous.body) == {"detail"}
    renamed = await vital(acme, "PATCH", f"/v2/user/{user_id}", {"client_user_id": "q"})
    assert renamed.status == 400
    assert "cannot change" in renamed.body["detail"]["error_message"]


async def test_users_are_the_native_apis_linked_accounts(acme: Api, globex: Api) -> None:
    created = await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "acct:7"})
    assert created.status == 201
    resolved = await vital(acme, "GET", "/v2/user/resolve/acct:7")
    assert resolved.status == 200
    user_id = resolved.body["user_id"]
    assert user_id == str(account_uuid(acme.tenant, "acct:7"))  # the webhooks' user_id too
    assert (await vital(acme, "GET", f"/v2/user/{user_id}")).body["client_user_id"] == "acct:7"
    assert (await vital(globex, "GET", f"/v2/user/{user_id}")).status == 404
    listed = await vital(acme, "GET", "/v2/user?offset=0&limit=1")
    assert (listed.body["total"], listed.body["offset"], listed.body["limit"]) == (1, 0, 1)

    # A link token for it in Vital's form, and the account deleted through Vital's API.
    assert (
        "link_web_url" in (await vital(acme, "POST", "/v2/link/token", {"user_id": user_id})).body
    )
    assert (await vital(acme, "DELETE", f"/v2/user/{user_id}")).body == {"success": True}
    assert (await acme.call("GET", "/v1/linked-accounts/acct:7")).status == 404


async def test_accounts_from_before_uuids_are_found_by_theirs(acme: Api, pool: db.Pool) -> None:
    await pool.execute(
        """INSERT INTO linked_accounts (client_id, environment, linked_account_id)
           VALUES ($1, $2, 'legacy')""",
        acme.tenant.client_id,
        acme.tenant.environment,
    )
    user_id = account_uuid(acme.tenant, "legacy")
    found = await vital(acme, "GET", f"/v2/user/{user_id}")
    assert (found.status, found.body["client_user_id"]) == (200, "legacy")
    stored = await pool.fetchval(
        "SELECT account_uuid FROM linked_accounts WHERE linked_account_id = 'legacy'"
    )
    assert stored == user_id


async def test_link_token_options_are_checked_when_it_is_created(acme: Api) -> None:
    user_id = await new_user(acme)
    for options, field in (
        ({"provider": "nope"}, "provider"),
        ({"provider": "oura"}, "provider"),  # in the catalog, not enabled for this client
        ({"filter_on_providers": ["oura", "fitbit"]}, "filter_on_providers"),
        ({"filter_on_providers": []}, "filter_on_providers"),
        ({"provider": "sandbox", "filter_on_providers": ["sandbox_apikey"]}, "provider"),
    ):
        refused = await vital(acme, "POST", "/v2/link/token", {"user_id": user_id, **options})
        assert refused.status == 400, options
        assert refused.body["error"]["code"] == "app_not_offered"
        assert refused.body["error"]["field"] == field
        assert field in refused.body["detail"]

    narrowed = await new_token(acme, user_id, filter_on_providers=["sandbox_apikey", "oura"])
    offered = await vital(acme, "GET", "/v2/link/providers", link_token=narrowed)
    assert [p["slug"] for p in offered.body] == ["sandbox_apikey"]

    assert (await acme.call("PUT", "/v1/apps/oura", {"enabled": True})).status == 200
    reply = await vital(acme, "POST", "/v2/link/token", {"user_id": user_id, "provider": "oura"})
    assert reply.status == 200
    assert reply.body["link_web_url"].endswith("&app=oura")

    # The seed's form (a client-chosen id) is answered as before.
    seed = await vital(acme, "POST", "/v2/link/token", {"user_id": "u", "provider": "nope"})
    assert (seed.status, set(seed.body)) == (200, {"link_token"})


async def test_link_token_routes(acme: Api, browser: Browser) -> None:
    user_id = await new_user(acme)
    assert (await vital(acme, "GET", "/v2/link/providers")).status == 401
    stale = await vital(acme, "GET", "/v2/link/providers", link_token="lt_nope")
    assert stale.status == 401
    assert stale.body["detail"]["error_type"] == "invalid_token"

    token = await new_token(acme, user_id)
    listed = await vital(acme, "GET", "/v2/link/providers", link_token=token)
    by_slug = {p["slug"]: p for p in listed.body}
    assert by_slug["sandbox"]["auth_type"] == "oauth"
    assert by_slug["sandbox_apikey"]["auth_type"] == "password"
    assert isinstance(by_slug["sandbox"]["id"], int)
    state = await vital(acme, "GET", "/v2/link/state", link_token=token)
    assert (state.body["user_id"], state.body["client_user_id"]) == (user_id, "patient-1")

    wrong_kind = await vital(
        acme, "GET", "/v2/link/provider/oauth/sandbox_apikey", link_token=token
    )
    assert wrong_kind.status == 400
    assert "/v2/link/provider/password/sandbox_apikey" in wrong_kind.body["detail"]["error_message"]
    not_offered = await vital(acme, "GET", "/v2/link/provider/oauth/oura", link_token=token)
    assert not_offered.status == 400
    oauth_app = await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox",
        {"username": "a", "password": "b"},
        link_token=token,
    )
    assert oauth_app.status == 400
    assert "/v2/link/provider/oauth/sandbox" in oauth_app.body["detail"]["error_message"]
    email = await vital(
        acme, "POST", "/v2/link/provider/email/sandbox_apikey", {"email": "a@b.c"}, link_token=token
    )
    assert email.status == 400
    assert "password" in email.body["detail"]["error_message"]
    mfa = await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox_apikey/complete_mfa",
        {"mfa_code": "1"},
        link_token=token,
    )
    assert (mfa.status, mfa.body["detail"]["error_type"]) == (400, "not_offered_by_linkport")

    # A missing credential is Vital's 200 with state=error, and leaves the token usable.
    empty = await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox_apikey",
        {"username": "", "password": ""},
        link_token=token,
    )
    assert empty.status == 200
    assert (empty.body["state"], empty.body["error_type"]) == ("error", "provider_credential_error")
    # None of these calls used the token up: the hosted page still opens with it.
    opened = await browser.get(f"/link?token={token}")
    assert (opened.status, opened.location) == (303, str(acme.http.make_url("/link/session")))


async def test_a_password_connection_ends_at_redirect_url(acme: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [REDIRECT]})
    user_id = await new_user(acme)
    token = await new_token(acme, user_id, redirect_url=REDIRECT)
    linked = await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox_apikey",
        {"username": "ignored", "password": "helpdesk-key", "region": "us"},
        link_token=token,
    )
    assert linked.body == {
        "state": "success",
        "provider": "sandbox_apikey",
        "connected": True,
        "redirect_url": f"{REDIRECT}?state=success",
        "error_type": None,
        "error": None,
        "provider_mfa": None,
        "provider_id": None,
    }
    again = await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox_apikey",
        {"username": "", "password": "k"},
        link_token=token,
    )
    assert again.status == 401  # the token is used up
    connections = await acme.call(
        "GET", "/v1/connections", params={"linked_account_id": "patient-1"}
    )
    assert [c["app"] for c in connections.body["data"]] == ["sandbox_apikey"]


async def test_without_a_redirect_url_the_flow_ends_on_a_page_without_a_token(
    acme: Api, browser: Browser
) -> None:
    user_id = await new_user(acme)
    picker = await open_link(browser, await new_token(acme, user_id))
    back = await sign_in(browser, await start_sandbox_oauth(browser, picker))
    done = await browser.follow(back)
    assert done.status == 200
    assert "Connected" in done.text
    assert "You can close this window." in done.text
    assert "pt_" not in done.text


async def test_a_disconnected_connection_is_an_errored_provider(acme: Api, pool: db.Pool) -> None:
    user_id = await new_user(acme)
    token = await new_token(acme, user_id)
    await vital(
        acme,
        "POST",
        "/v2/link/provider/password/sandbox_apikey",
        {"username": "", "password": "k"},
        link_token=token,
    )
    await pool.execute(
        "UPDATE connections SET status = 'needs_reauth', status_reason = 'refresh token revoked'"
    )
    [provider] = (await vital(acme, "GET", f"/v2/user/providers/{user_id}")).body["providers"]
    assert provider["status"] == "error"
    assert provider["error_details"]["error_type"] == "token_refresh_failed"
    assert provider["error_details"]["error_message"] == "refresh token revoked"
    metrics = await vital(acme, "GET", "/v2/user/metrics")
    assert metrics.body["number_of_errored_connected_sources"] == 1


async def test_other_v2_paths_say_what_linkport_does_not_offer(acme: Api) -> None:
    for method, path in (("GET", "/v2/summary/sleep/u1"), ("PUT", "/v2/user/u1")):
        reply = await vital(acme, method, path)
        assert reply.status == 404
        assert reply.body["detail"]["error_type"] == "not_offered_by_linkport"
        assert f"{method} {path}" in reply.body["detail"]["error_message"]


async def test_openapi_lists_the_vital_face_under_its_tag(acme: Api) -> None:
    spec = (await acme.call("GET", "/openapi.json", auth="none")).body
    for path, method in (
        ("/v2/user", "post"),
        ("/v2/user/{user_id}", "patch"),
        ("/v2/link/provider/oauth/{oauth_provider}", "get"),
        ("/v2/link/bulk_op", "get"),  # not offered, and documented as such
    ):
        operation = spec["paths"][path][method]
        assert operation["tags"] == ["vital"]
        error = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert error["$ref"].endswith("/VitalErrorBody")
    assert spec["paths"]["/v2/link/bulk_op"]["get"]["summary"].startswith("Not offered")


async def test_deregistering_a_provider_removes_every_connection_to_it(acme: Api) -> None:
    """Several connections to one app (two keys): Vital's deregister removes them all, and
    ``connection.deleted`` is announced for each."""
    hook = await acme.call(
        "POST",
        "/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/linkport", "event_types": ["connection.deleted"]},
    )
    assert hook.status == 201, hook.body
    user_id = await new_user(acme)
    for key in ("first-key", "second-key"):
        await vital(
            acme,
            "POST",
            "/v2/link/provider/password/sandbox_apikey",
            {"username": "", "password": key},
            link_token=await new_token(acme, user_id),
        )
    listed = await acme.call("GET", "/v1/connections", params={"app": "sandbox_apikey"})
    assert len(listed.body["data"]) == 2

    gone = await vital(acme, "DELETE", f"/v2/user/{user_id}/sandbox_apikey")
    assert gone.body == {"success": True}
    listed = await acme.call("GET", "/v1/connections", params={"app": "sandbox_apikey"})
    assert listed.body["data"] == []
    again = await vital(acme, "DELETE", f"/v2/user/{user_id}/sandbox_apikey")
    assert again.status == 404
    log = await acme.call("GET", "/v1/webhook-events", params={"type": "connection.deleted"})
    assert len(log.body["data"]) == 2
