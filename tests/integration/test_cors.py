"""CORS: a frontend on the product's own origin calls the session-token routes (native and
cobalt-js's); secret-key calls never open to a browser origin."""

from __future__ import annotations

from tests.helpers import Api, AuthStyle, Reply

APP_ORIGIN = "https://app.acme.test"
OTHER_ORIGIN = "https://evil.test"


async def preflight(api: Api, path: str, method: str, origin: str = APP_ORIGIN) -> Reply:
    """What a browser sends before a cross-origin call with a bearer token and a JSON body."""
    return await api.call(
        "OPTIONS",
        path,
        auth="none",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


async def session_token(api: Api, account: str = "user_12345") -> str:
    await api.call("POST", "/v1/linked-accounts", {"linked_account_id": account})
    reply = await api.call("POST", "/v1/session-tokens", {"linked_account_id": account})
    token: str = reply.body["token"]
    return token


async def from_browser(
    api: Api, method: str, path: str, token: str, origin: str = APP_ORIGIN, json: object = None
) -> Reply:
    return await api.call(
        method,
        path,
        json,
        auth="none",
        headers={"Authorization": f"Bearer {token}", "Origin": origin},
    )


async def test_preflights_of_session_routes_are_answered_for_any_origin(acme: Api) -> None:
    for path, method in [
        ("/v1/apps", "GET"),
        ("/v1/configs/00000000-0000-0000-0000-000000000000", "PUT"),
        ("/v1/connect/hosted", "POST"),
        ("/api/v2/f-sdk/config", "PUT"),
        ("/api/v2/f-sdk/slug/sandbox/config/user_12345", "DELETE"),
        ("/api/v1/linked-acc/integration/sandbox", "DELETE"),
        ("/api/v2/public/event", "POST"),
    ]:
        # No credentials on a preflight: the tenant is unknown, any origin gets an answer.
        for origin in (APP_ORIGIN, OTHER_ORIGIN):
            reply = await preflight(acme, path, method, origin)
            assert reply.status == 204, (path, method)
            headers = reply.headers
            assert headers["Access-Control-Allow-Origin"] == origin
            assert headers["Access-Control-Allow-Methods"] == method
            allowed = {h.strip() for h in headers["Access-Control-Allow-Headers"].split(",")}
            assert {"authorization", "content-type", "slug", "sync_execution"} <= allowed
            assert "Origin" in headers["Vary"]
            assert "Access-Control-Allow-Credentials" not in headers


async def test_routes_for_secret_keys_answer_no_preflight(acme: Api) -> None:
    for path, method in [
        ("/v1/session-tokens", "POST"),
        ("/link/token/create", "POST"),
        ("/v1/events", "POST"),
        ("/api/v2/public/session-token", "POST"),
        ("/api/v2/public/linked-account", "GET"),
        ("/v1/apps", "DELETE"),  # a session path, but not that method
        ("/no/such/route", "GET"),
    ]:
        reply = await preflight(acme, path, method)
        assert reply.status in (404, 405), (path, method, reply.status)
        assert "Access-Control-Allow-Origin" not in reply.headers, (path, method)


async def test_a_session_call_from_an_allowed_origin_may_be_read(acme: Api) -> None:
    # By default: the origins of the client's redirect URLs and callback URL.
    await acme.call(
        "PATCH",
        "/v1/settings",
        {
            "allowed_redirect_urls": [f"{APP_ORIGIN}/integrations/done"],
            "callback_url": "https://CALLBACK.acme.test:8443/cb",
        },
    )
    token = await session_token(acme)
    for origin in (APP_ORIGIN, "https://callback.acme.test:8443"):
        for method, path in [("GET", "/v1/apps"), ("GET", "/api/v2/f-sdk/application/sandbox")]:
            reply = await from_browser(acme, method, path, token, origin)
            assert reply.status == 200, reply.body
            assert reply.headers["Access-Control-Allow-Origin"] == origin
            assert "Origin" in reply.headers["Vary"]
            assert "X-Request-ID" in reply.headers["Access-Control-Expose-Headers"]
    # An error the page should read (a config that is not there) is readable too.
    missing = await from_browser(
        acme, "GET", "/api/v2/f-sdk/slug/sandbox/config/nope", token, APP_ORIGIN
    )
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    # Another origin gets the answer, but the browser does not let the page read it.
    other = await from_browser(acme, "GET", "/v1/apps", token, OTHER_ORIGIN)
    assert other.status == 200
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


async def test_secret_keys_never_open_to_a_browser_origin(acme: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_origins": [APP_ORIGIN]})
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user_12345"})
    calls: list[tuple[AuthStyle, str]] = [
        ("api_key", "/v1/apps"),
        ("bearer", "/v1/apps"),
        ("secret", "/v1/linked-accounts"),
        ("api_key", "/api/v2/public/application?linked_account_id=user_12345"),
    ]
    for auth, path in calls:
        reply = await acme.call("GET", path, auth=auth, headers={"Origin": APP_ORIGIN})
        assert reply.status == 200, (auth, path, reply.body)
        assert "Access-Control-Allow-Origin" not in reply.headers, (auth, path)


async def test_allowed_origins_replace_the_default(acme: Api, globex: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [f"{APP_ORIGIN}/done"]})
    changed = await acme.call(
        "PATCH",
        "/v1/settings",
        {"allowed_origins": ["HTTP://LocalHost:3000", "https://admin.acme.test/"]},
    )
    assert changed.status == 200, changed.body
    assert changed.body["allowed_origins"] == ["http://localhost:3000", "https://admin.acme.test"]
    token = await session_token(acme)
    allowed = await from_browser(acme, "GET", "/v1/apps", token, "http://localhost:3000")
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    default_gone = await from_browser(acme, "GET", "/v1/apps", token, APP_ORIGIN)
    assert "Access-Control-Allow-Origin" not in default_gone.headers
    # Another tenant's session from that origin is not let in: origins are per tenant.
    globex_token = await session_token(globex)
    foreign = await from_browser(globex, "GET", "/v1/apps", globex_token, "http://localhost:3000")
    assert "Access-Control-Allow-Origin" not in foreign.headers
    # null: back to the default.
    reset = await acme.call("PATCH", "/v1/settings", {"allowed_origins": None})
    assert reset.body["allowed_origins"] is None
    back = await from_browser(acme, "GET", "/v1/apps", token, APP_ORIGIN)
    assert back.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


async def test_allowed_origins_must_be_origins(acme: Api) -> None:
    for value in ["https://a.test/path", "ftp://a.test", "a.test", "https://a.test?x=1", "*"]:
        reply = await acme.call("PATCH", "/v1/settings", {"allowed_origins": [value]})
        assert reply.status == 422, value
        assert reply.body["error"]["field"] == "allowed_origins.0", value
