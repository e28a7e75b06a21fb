"""Connections after the Link flow: frontend routes, access tokens, the sandbox API and its faults."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
import pytest

from services.gateway.appkeys import RESOURCES
from shared.config import Settings
from shared.connections.credentials import connection_binding
from shared.connections.models import ConnectionStatus
from shared.infra import db
from shared.infra.crypto import Keyring, Sealed
from tests.helpers import Api
from tests.link_browser import EMR_LINK, Browser, link_token, run_flow, shown_public_token


@pytest.fixture
async def connected(acme: Api) -> dict[str, Any]:
    """A sandbox connection made through the hosted flow, exchanged for an access token."""
    browser = Browser(str(acme.http.make_url("/")))
    try:
        public_token = shown_public_token(await run_flow(browser, await link_token(acme)))
    finally:
        await browser.close()
    reply = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert reply.status == 200
    body: dict[str, Any] = reply.body
    return body


async def _session(api: Api, account: str) -> dict[str, str]:
    reply = await api.call("POST", "/v1/session-tokens", {"linked_account_id": account})
    return {"Authorization": f"Bearer {reply.body['token']}"}


async def _sandbox_access_token(pool: db.Pool, settings: Settings, connection_id: str) -> str:
    row = await pool.fetchrow("SELECT * FROM connections WHERE id = $1", uuid.UUID(connection_id))
    assert row is not None
    sealed = Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"])
    opened = orjson.loads(
        Keyring.from_settings(settings).open(sealed, bound_to=connection_binding(row["id"]))
    )
    token: str = opened["access_token"]
    return token


async def test_session_sees_apps_with_its_connection_status(
    acme: Api, connected: dict[str, Any]
) -> None:
    bearer = await _session(acme, "user_12345")
    apps = await acme.call("GET", "/v1/apps", auth="none", headers=bearer)
    assert apps.status == 200
    by_slug = {a["slug"]: a for a in apps.body["data"]}
    assert by_slug["sandbox"]["connection"] == {
        "id": connected["connection_id"],
        "status": "active",
    }
    assert by_slug["sandbox_apikey"]["connection"] is None
    assert by_slug["sandbox"]["logo_url"] == "/static/logos/sandbox.svg"
    async with acme.http.get(by_slug["sandbox"]["logo_url"]) as logo:
        assert logo.status == 200
        assert logo.content_type == "image/svg+xml"
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "someone_else"})
    theirs = await acme.call(
        "GET", "/v1/apps", auth="none", headers=await _session(acme, "someone_else")
    )
    assert all(a["connection"] is None for a in theirs.body["data"])


async def test_hosted_connect_url_for_a_session(acme: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"name": "Acme Health"})
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "Test2"})
    bearer = await _session(acme, "Test2")
    reply = await acme.call(
        "POST",
        "/v1/connect/hosted",
        {"color": "#000000", "name": "Jon Snow"},
        auth="none",
        headers=bearer,
    )
    assert reply.status == 201
    url = reply.body["hosted_url"]
    assert url.startswith(str(acme.http.make_url("/link?token=lt_")))
    browser = Browser(str(acme.http.make_url("/")))
    try:
        opened = await browser.get(url)
        page = await browser.follow(opened)
        assert "Hi Jon Snow" in page.text
        assert "--brand: #000000" in page.text
        assert "Acme Health" in page.text
    finally:
        await browser.close()
    needs_account = await acme.call("POST", "/v1/connect/hosted", {"color": "#000000"})
    assert needs_account.status == 422
    assert needs_account.body["error"]["field"] == "linked_account_id"
    by_server = await acme.call("POST", "/v1/connect/hosted", {"linked_account_id": "Test2"})
    assert by_server.status == 201


async def test_session_can_delete_only_its_own_connections(
    acme: Api, pool: db.Pool, connected: dict[str, Any]
) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "someone_else"})
    intruder = await _session(acme, "someone_else")
    path = f"/v1/connections/{connected['connection_id']}"
    assert (await acme.call("GET", path, auth="none", headers=intruder)).status == 404
    assert (await acme.call("DELETE", path, auth="none", headers=intruder)).status == 404
    owner = await _session(acme, "user_12345")
    assert (await acme.call("GET", path, auth="none", headers=owner)).status == 200
    assert (await acme.call("DELETE", path, auth="none", headers=owner)).status == 200
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0
    assert (await acme.call("DELETE", path)).status == 404


async def test_connections_of_another_tenant_are_404(
    acme: Api, globex: Api, connected: dict[str, Any]
) -> None:
    path = f"/v1/connections/{connected['connection_id']}"
    assert (await globex.call("GET", path)).status == 404
    assert (await globex.call("DELETE", path)).status == 404
    assert (await globex.call("POST", path + "/access-token/rotate")).status == 404
    assert (await globex.call("PUT", path + "/sandbox/fault", {"fault": "revoked"})).status == 404
    assert (await acme.call("GET", "/v1/connections/not-a-uuid")).status == 404


async def test_rotating_the_access_token_revokes_the_old_one(
    acme: Api, connected: dict[str, Any]
) -> None:
    old = connected["access_token"]
    update_with_old = {**EMR_LINK, "access_token": old}
    assert (await acme.call("POST", "/link/token/create", update_with_old)).status == 200
    rotated = await acme.call(
        "POST", f"/v1/connections/{connected['connection_id']}/access-token/rotate"
    )
    assert rotated.status == 200
    assert rotated.body["access_token"].startswith("at_")
    assert rotated.body["access_token"] != old
    assert (await acme.call("POST", "/link/token/create", update_with_old)).status == 404
    update_with_new = {**EMR_LINK, "access_token": rotated.body["access_token"]}
    assert (await acme.call("POST", "/link/token/create", update_with_new)).status == 200


async def test_deleting_a_connection_revokes_its_access_token(
    acme: Api, connected: dict[str, Any]
) -> None:
    assert (
        await acme.call("DELETE", f"/v1/connections/{connected['connection_id']}")
    ).status == 200
    update = {**EMR_LINK, "access_token": connected["access_token"]}
    assert (await acme.call("POST", "/link/token/create", update)).status == 404


async def _sandbox_api(
    acme: Api, token: str, method: str = "GET", path: str = "/contacts", **kw: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    async with acme.http.request(method, "/sandbox/api" + path, headers=headers, **kw) as reply:
        return reply.status, await reply.json(), dict(reply.headers)


async def test_sandbox_api_needs_its_token_and_records_calls(
    acme: Api, pool: db.Pool, settings: Settings, connected: dict[str, Any]
) -> None:
    token = await _sandbox_access_token(pool, settings, connected["connection_id"])
    assert (await _sandbox_api(acme, "sbx_at_forged"))[0] == 401
    status, body, _ = await _sandbox_api(
        acme,
        token,
        "POST",
        json={"email": "ada@example.com", "name": "Ada"},
        headers={"Idempotency-Key": "k1"},
    )
    assert status == 201
    assert body["email"] == "ada@example.com"
    again = await _sandbox_api(
        acme,
        token,
        "POST",
        json={"email": "ada@example.com", "name": "Ada"},
        headers={"Idempotency-Key": "k1"},
    )
    assert again[0] == 200
    assert again[1]["id"] == body["id"]
    listed = await _sandbox_api(acme, token)
    assert [c["email"] for c in listed[1]["data"]] == ["ada@example.com"]
    calls = await acme.call("GET", f"/v1/connections/{connected['connection_id']}/sandbox/calls")
    assert [
        (c["method"], c["path"], c["status"], c["idempotency_key"]) for c in calls.body["data"]
    ] == [
        ("POST", "/contacts", 201, "k1"),
        ("POST", "/contacts", 200, "k1"),
        ("GET", "/contacts", 200, None),
    ]


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("rate_limited", 429, "rate_limited"),
        ("server_error", 500, "server_error"),
        ("revoked", 401, "invalid_token"),
    ],
)
async def test_sandbox_faults_fail_the_given_number_of_calls(
    acme: Api,
    pool: db.Pool,
    settings: Settings,
    connected: dict[str, Any],
    fault: str,
    status: int,
    error: str,
) -> None:
    token = await _sandbox_access_token(pool, settings, connected["connection_id"])
    path = f"/v1/connections/{connected['connection_id']}/sandbox/fault"
    switched = await acme.call("PUT", path, {"fault": fault, "count": 2})
    assert switched.body == {
        "connection_id": connected["connection_id"],
        "fault": fault,
        "remaining": 2,
    }
    for _ in range(2):
        got = await _sandbox_api(acme, token)
        assert got[0] == status
        assert got[1]["error"] == error
    if fault == "rate_limited":
        assert got[2]["Retry-After"] == "1"
    assert (await _sandbox_api(acme, token))[0] == 200


async def test_expired_token_fault_then_refresh_with_rotation(
    acme: Api, pool: db.Pool, settings: Settings, connected: dict[str, Any]
) -> None:
    row = await pool.fetchrow("SELECT * FROM connections")
    assert row is not None
    sealed = Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"])
    creds = orjson.loads(
        Keyring.from_settings(settings).open(sealed, bound_to=connection_binding(row["id"]))
    )
    await acme.call("PUT", f"/v1/connections/{row['id']}/sandbox/fault", {"fault": "expired_token"})
    first = await _sandbox_api(acme, creds["access_token"])
    assert first[0] == 401
    assert first[1]["error_description"] == "access token expired"
    assert (await _sandbox_api(acme, creds["access_token"]))[0] == 401  # stays expired

    res = acme.http.app[RESOURCES]
    basic = base64.b64encode(
        f"{res.settings.sandbox_client_id}:{res.settings.sandbox_client_secret}".encode()
    ).decode()

    async def refresh(refresh_token: str) -> tuple[int, dict[str, Any]]:
        async with acme.http.post(
            "/sandbox/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers={"Authorization": f"Basic {basic}"},
        ) as reply:
            return reply.status, await reply.json()

    status, fresh = await refresh(creds["refresh_token"])
    assert status == 200
    assert fresh["access_token"] != creds["access_token"]
    assert (await _sandbox_api(acme, fresh["access_token"]))[0] == 200
    reused = await refresh(creds["refresh_token"])
    assert reused == (
        400,
        {
            "error": "invalid_grant",
            "error_description": "refresh token is invalid, used, or revoked",
        },
    )
    await acme.call("PUT", f"/v1/connections/{row['id']}/sandbox/fault", {"fault": "revoked"})
    assert (await refresh(fresh["refresh_token"]))[0] == 400


async def test_sandbox_token_endpoint_checks_the_client(acme: Api) -> None:
    async with acme.http.post(
        "/sandbox/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
    ) as reply:
        assert reply.status == 401
        assert (await reply.json())["error"] == "invalid_client"


async def test_fault_only_for_sandbox_connections(acme: Api, pool: db.Pool) -> None:
    from shared.connections.store import upsert_connection

    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "u"})
    other = await upsert_connection(
        pool,
        tenant=acme.tenant,
        linked_account_id="u",
        app="hubspot",
        status=ConnectionStatus.ACTIVE,
    )
    reply = await acme.call(
        "PUT", f"/v1/connections/{other.id}/sandbox/fault", {"fault": "revoked"}
    )
    assert reply.status == 422
    bad = await acme.call("PUT", f"/v1/connections/{other.id}/sandbox/fault", {"fault": "meteor"})
    assert bad.status == 422
    assert bad.body["error"]["field"] == "fault"


async def test_sandbox_authorize_refuses_unregistered_redirects(acme: Api) -> None:
    async with acme.http.get(
        "/sandbox/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "x",
            "redirect_uri": "https://evil.example/cb",
            "state": "s",
        },
        allow_redirects=False,
    ) as reply:
        assert reply.status == 400
        assert "redirect_uri is not registered" in await reply.text()
