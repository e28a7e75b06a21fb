"""The proxy, as the README shows it: a tenant calls ``/v1/proxy/{path}`` with its secret key
and a ``Linkport-Connection-Id`` header, and the call reaches the connection's app below its
API base with the connection's credentials (never the tenant's), the app's answer coming back
as it is. Test-only catalog entries (tests/fakes/proxied_app.py, through the operator's
``LINKPORT_CATALOG_OVERRIDES``) point key-based apps (header, query and Basic credentials)
and an OAuth app at a fake API on loopback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from yarl import URL

from services.gateway.appkeys import SETTINGS
from shared.clients import store as clients
from shared.config import Settings
from shared.connections import store as connection_store
from shared.connections.credentials import connection_binding
from shared.infra import db, metrics
from shared.infra.crypto import Keyring
from shared.infra.outbound import parse_networks
from tests.fakes.proxied_app import (
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    FRESH_TOKEN,
    GOOD_KEY,
    REFRESH_TOKEN,
    ProxiedApps,
    catalog_overrides,
    download_bytes,
    recorded,
)
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory, Client
from tests.link_browser import Browser, link_token, run_flow, shown_public_token
from tests.processes import free_port

ACCOUNT = "user-1"
MAX_BODY = 64 * 1024


@dataclass
class Setup:
    http: Client
    fake: ProxiedApps
    acme: Api
    globex: Api
    keyring: Keyring


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@pytest.fixture
async def setup(
    make_client: AppFactory,
    pool: db.Pool,
    start_fake: StartFake,
    tmp_path: Path,
    settings: Settings,
) -> Setup:
    fake = await start_fake(ProxiedApps())
    unreachable = f"http://127.0.0.1:{free_port()}"
    http = await make_client(
        catalog_overrides=str(catalog_overrides(tmp_path, fake.url, unreachable_url=unreachable)),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
        proxy_max_body_bytes=MAX_BODY,
    )
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    globex = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Globex", environment="test")
    )
    for api in (acme, globex):
        made = await api.call("POST", "/v1/linked-accounts", {"linked_account_id": ACCOUNT})
        assert made.status in (200, 201), made.body
    return Setup(http, fake, acme, globex, Keyring.from_settings(settings))


async def connect(
    setup: Setup,
    pool: db.Pool,
    slug: str,
    credentials: dict[str, Any],
    *,
    fields: dict[str, str] | None = None,
    api: Api | None = None,
) -> uuid.UUID:
    """A connection of the account to ``slug`` with these credentials, as the Link flow saves it."""
    tenant = (api or setup.acme).tenant
    plaintext = orjson.dumps(credentials)
    saved = await connection_store.save_authorised_connection(
        pool,
        tenant=tenant,
        linked_account_id=ACCOUNT,
        app=slug,
        seal=lambda row_id: setup.keyring.seal(plaintext, bound_to=connection_binding(row_id)),
        expires_at=None,
        provider_account_id=None,
        fields=fields or {},
        update_connection_id=None,
    )
    assert saved is not None
    return saved.id


async def key_connection(setup: Setup, pool: db.Pool, slug: str = "keyed_header") -> uuid.UUID:
    fields = {"email": BASIC_USER} if slug == "keyed_basic" else {}
    return await connect(setup, pool, slug, {"kind": "api_key", "api_key": GOOD_KEY}, fields=fields)


async def proxy(
    setup: Setup,
    method: str,
    path: str,
    *,
    connection_id: uuid.UUID | str | None,
    api: Api | None = None,
    auth: str = "api_key",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Answer:
    """Send ``method /v1/proxy/{path}`` exactly as written (no normalising of ``..``)."""
    sent = {**(api or setup.acme).auth_headers(auth), **(headers or {})}  # type: ignore[arg-type]
    if connection_id is not None:
        sent["Linkport-Connection-Id"] = str(connection_id)
    url = URL(str(setup.http.make_url("/v1/proxy/")) + path, encoded=True)
    async with setup.http.session.request(method, url, headers=sent, **kwargs) as reply:
        return Answer(reply.status, dict(reply.headers), await reply.read())


async def test_get_with_a_query_reaches_the_app_with_the_connections_key(
    setup: Setup, pool: db.Pool
) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(
        setup,
        "GET",
        "echo/items?limit=5&q=a%20b&tag=x&tag=y",
        connection_id=connection_id,
        headers={
            "Cookie": "linkport_session=s",
            "Linkport-Trace": "mine",
            "X-Custom": "kept",
            "Accept": "application/json",
        },
    )
    assert answer.status == 200, answer.body
    echoed = answer.json()
    assert echoed["path"] == "/v2/echo/items"
    assert echoed["query"] == "limit=5&q=a%20b&tag=x&tag=y"
    sent = {k.lower(): v for k, v in echoed["headers"].items()}
    assert sent["x-api-token"] == GOOD_KEY
    assert sent["x-custom"] == "kept"
    assert sent["accept"] == "application/json"
    # Linkport's own credentials, cookies and Linkport-* headers stay here.
    assert "x-api-key" not in sent
    assert setup.acme.credentials.api_key not in answer.body.decode()
    assert "cookie" not in sent
    assert not any(k.startswith("linkport-") for k in sent)
    # The app's cookies and CORS headers do not come back; its other headers do.
    assert "Set-Cookie" not in answer.headers
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert answer.headers["X-Fake-Trace"] == "t-1"
    assert answer.headers["X-Request-ID"]


@pytest.mark.parametrize("slug", ["keyed_query", "keyed_basic"])
async def test_query_and_basic_credentials_go_where_the_catalog_says(
    setup: Setup, pool: db.Pool, slug: str
) -> None:
    connection_id = await key_connection(setup, pool, slug)
    # The tenant authenticates with Authorization: Bearer <its API key>; the app never sees it.
    answer = await proxy(
        setup,
        "GET",
        "echo/list?token=from-caller&page=2",
        connection_id=connection_id,
        auth="bearer",
    )
    assert answer.status == 200, answer.body
    echoed = answer.json()
    sent = {k.lower(): v for k, v in echoed["headers"].items()}
    assert setup.acme.credentials.api_key not in str(echoed)
    if slug == "keyed_query":
        # The connection's key replaces a parameter of the same name; the rest stays.
        assert echoed["query"] == f"page=2&token={GOOD_KEY}"
        assert "authorization" not in sent
    else:
        assert echoed["query"] == "token=from-caller&page=2"
        assert sent["authorization"].startswith("Basic ")


async def test_post_json_body_is_forwarded(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)
    payload = {"name": "Ada", "tags": ["a", "b"], "n": 1}
    answer = await proxy(setup, "POST", "echo/contacts", connection_id=connection_id, json=payload)
    assert answer.status == 201, answer.body
    echoed = answer.json()
    assert echoed["method"] == "POST"
    assert orjson.loads(echoed["body"]) == payload
    assert echoed["headers"]["Content-Type"] == "application/json"
    for method in ("PUT", "PATCH", "DELETE"):
        other = await proxy(setup, method, "echo/contacts/7", connection_id=connection_id)
        assert other.status == 200
        assert other.json()["method"] == method


async def test_large_download_is_streamed_whole(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)
    size = 5 * 1024 * 1024 + 17  # well above the outbound client's bounded read (1 MiB)
    answer = await proxy(setup, "GET", f"download?size={size}", connection_id=connection_id)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert len(answer.body) == size
    assert answer.body == download_bytes(size)


async def test_the_apps_429_and_retry_after_pass_through(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(setup, "GET", "limited", connection_id=connection_id)
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json() == {"error": "rate_limited"}


async def test_an_oauth_token_the_app_refuses_is_refreshed_once_and_the_call_resent(
    setup: Setup, pool: db.Pool
) -> None:
    enabled = await setup.acme.call(
        "PUT",
        "/v1/apps/oauthy",
        {"enabled": True, "oauth_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET},
    )
    assert enabled.status == 200, enabled.body
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    connection_id = await connect(
        setup,
        pool,
        "oauthy",
        {
            "kind": "oauth2",
            "access_token": "at-revoked-early",
            "refresh_token": REFRESH_TOKEN,
            "expires_at": later,
        },
    )
    answer = await proxy(
        setup, "POST", "echo/notes", connection_id=connection_id, json={"text": "hi"}
    )
    assert answer.status == 201, answer.body
    calls = setup.fake.api_calls("oauthy")
    assert [c.headers["Authorization"] for c in calls] == [
        "Bearer at-revoked-early",
        f"Bearer {FRESH_TOKEN}",
    ]
    assert [orjson.loads(c.body) for c in calls] == [{"text": "hi"}, {"text": "hi"}]
    assert [r["grant_type"] for r in setup.fake.token_requests] == ["refresh_token"]
    # The refreshed token is stored: the next call uses it at once.
    again = await proxy(setup, "GET", "echo/notes", connection_id=connection_id)
    assert again.status == 200
    assert len(setup.fake.api_calls("oauthy")) == 3
    assert len(setup.fake.token_requests) == 1


async def test_a_fresh_token_refused_too_passes_the_401_on_and_needs_reauth(
    setup: Setup, pool: db.Pool
) -> None:
    enabled = await setup.acme.call(
        "PUT",
        "/v1/apps/oauthy",
        {"enabled": True, "oauth_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET},
    )
    assert enabled.status == 200, enabled.body
    setup.fake.accept_refreshed = False
    connection_id = await connect(
        setup,
        pool,
        "oauthy",
        {"kind": "oauth2", "access_token": "at-old", "refresh_token": REFRESH_TOKEN},
    )
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    assert answer.status == 401  # the app's own answer
    assert len(setup.fake.api_calls("oauthy")) == 2  # the old token, then the fresh one
    status = await pool.fetchval("SELECT status FROM connections WHERE id = $1", connection_id)
    assert status == "needs_reauth"
    again = await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    assert again.status == 409  # nothing more is sent until the user re-authorises
    assert len(setup.fake.api_calls("oauthy")) == 2


async def test_a_401_without_a_refresh_token_passes_through(setup: Setup, pool: db.Pool) -> None:
    connection_id = await connect(
        setup, pool, "keyed_header", {"kind": "api_key", "api_key": "key-revoked"}
    )
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    assert answer.status == 401
    assert answer.json() == {"error": "unauthorized", "message": "invalid credentials"}
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="fake"'
    assert len(setup.fake.api_calls("keyed_header")) == 1


@pytest.mark.parametrize(
    "path",
    [
        "../../keyed_query/api/v2/me",
        "echo/../../../evil",
        "%2e%2e/%2E%2E/keyed_query/api/v2/me",
        "echo/..%2f..%2fevil",
        "echo%2F..%2F..%2Fevil",
        "%5c%5cevil.test/x",
        "/evil.test/x",
        "echo//evil.test/x",
        "@evil.test/x",
        "echo@evil.test",
        "https://evil.test/x",
        "http:%2F%2Fevil.test/x",
        "%252e%252e/x",
        "./echo",
    ],
)
async def test_paths_that_would_leave_the_apps_api_are_refused(
    setup: Setup, pool: db.Pool, path: str
) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(setup, "GET", path, connection_id=connection_id)
    assert answer.status == 400, answer.body
    error = answer.json()["error"]
    assert error["code"] == "bad_request"
    assert error["field"] == "path"
    assert setup.fake.calls == [], recorded(setup.fake.calls)
    assert GOOD_KEY not in answer.body.decode()


async def test_another_tenants_connection_is_not_found(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id, api=setup.globex)
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "not_found"
    unknown = await proxy(setup, "GET", "echo/x", connection_id=uuid.uuid4())
    assert unknown.status == 404
    assert setup.fake.calls == []


async def test_the_connection_header_is_required(setup: Setup, pool: db.Pool) -> None:
    await key_connection(setup, pool)
    missing = await proxy(setup, "GET", "echo/x", connection_id=None)
    assert missing.status == 422
    assert missing.json()["error"]["field"] == "Linkport-Connection-Id"
    malformed = await proxy(setup, "GET", "echo/x", connection_id="not-a-uuid")
    assert malformed.status == 422
    assert setup.fake.calls == []


async def test_callers_must_authenticate_with_a_secret_key(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id, auth="none")
    assert answer.status == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert setup.fake.calls == []


async def test_a_connection_that_needs_reauthorising_is_a_conflict(
    setup: Setup, pool: db.Pool
) -> None:
    connection_id = await key_connection(setup, pool)
    await connection_store.mark_needs_reauth(pool, connection_id=connection_id, reason="test")
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    assert answer.status == 409
    error = answer.json()["error"]
    assert error["code"] == "conflict"
    assert "needs_reauth" in error["message"]
    assert "re-authorise" in error["message"]
    assert setup.fake.calls == []


async def test_a_body_over_the_limit_is_refused_before_anything_is_sent(
    setup: Setup, pool: db.Pool
) -> None:
    connection_id = await key_connection(setup, pool)
    answer = await proxy(
        setup, "POST", "echo/upload", connection_id=connection_id, data=b"x" * (MAX_BODY + 1)
    )
    assert answer.status == 413
    assert setup.fake.calls == []


async def test_an_unreachable_app_is_a_502_that_names_no_credential(
    setup: Setup, pool: db.Pool
) -> None:
    # Its key goes in the query: neither the key nor the URL may show in the error.
    connection_id = await key_connection(setup, pool, "keyed_down")
    answer = await proxy(setup, "GET", "echo/x?q=1", connection_id=connection_id)
    assert answer.status == 502, answer.body
    error = answer.json()["error"]
    assert error["code"] == "bad_gateway"
    assert "Keyed Down" in error["message"]
    assert GOOD_KEY not in answer.body.decode()
    assert "127.0.0.1" not in answer.body.decode()


async def test_calls_are_counted_by_app_and_status_class(setup: Setup, pool: db.Pool) -> None:
    connection_id = await key_connection(setup, pool)

    def count(status_class: str) -> float:
        value: float = metrics.PROXY_REQUESTS.labels("keyed_header", status_class)._value.get()
        return value

    ok, limited = count("2xx"), count("4xx")
    await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    await proxy(setup, "GET", "limited", connection_id=connection_id)
    assert (count("2xx"), count("4xx")) == (ok + 1, limited + 1)


async def test_the_builtin_sandbox_app_answers_through_the_proxy(acme: Api) -> None:
    """The README's example: a sandbox connection made in the hosted flow, its API (on
    Linkport's own origin, which only catalog-built URLs may reach) called by the proxy."""
    browser = Browser(str(acme.http.make_url("/")))
    try:
        done = await run_flow(browser, await link_token(acme))
    finally:
        await browser.close()
    exchanged = await acme.call(
        "POST", "/link/token/exchange", {"public_token": shown_public_token(done)}
    )
    headers = {"Linkport-Connection-Id": exchanged.body["connection_id"]}
    created = await acme.call(
        "POST", "/v1/proxy/contacts", {"email": "ada@example.com"}, headers=headers
    )
    assert created.status == 201, created.body
    listed = await acme.call("GET", "/v1/proxy/contacts?limit=10", headers=headers)
    assert listed.status == 200, listed.body
    assert [c["email"] for c in listed.body["data"]] == ["ada@example.com"]


async def test_the_apps_401s_are_not_failed_sign_ins_at_linkport(
    make_client: AppFactory, pool: db.Pool, setup: Setup
) -> None:
    """A gateway that blocks an address after 3 failed authentications: an app refusing a
    connection's key, however often, is not the caller failing to authenticate."""
    strict = await make_client(
        catalog_overrides=setup.http.app[SETTINGS].catalog_overrides,
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
        auth_failure_limit=3,
    )
    connection_id = await connect(
        setup, pool, "keyed_header", {"kind": "api_key", "api_key": "key-revoked"}
    )
    strict_setup = Setup(strict, setup.fake, setup.acme, setup.globex, setup.keyring)
    for _ in range(5):
        answer = await proxy(strict_setup, "GET", "echo/x", connection_id=connection_id)
        assert answer.status == 401
    still = await proxy(strict_setup, "GET", "limited", connection_id=connection_id)
    assert still.status == 401  # the app's answer again, not Linkport's 429 block
    assert len(setup.fake.api_calls("keyed_header")) == 6


async def test_the_openapi_document_describes_the_proxy_and_its_header(acme: Api) -> None:
    async with acme.http.get("/openapi.json") as response:
        spec = await response.json()
    item = spec["paths"]["/v1/proxy/{path}"]
    assert set(item) == {"get", "post", "put", "patch", "delete"}
    header = next(p for p in item["get"]["parameters"] if p["in"] == "header")
    assert (header["name"], header["required"]) == ("Linkport-Connection-Id", True)


async def test_an_app_that_does_not_answer_in_time_is_a_504(
    make_client: AppFactory, pool: db.Pool, setup: Setup
) -> None:
    impatient = await make_client(
        catalog_overrides=setup.http.app[SETTINGS].catalog_overrides,
        outbound_allowed_networks=parse_networks("127.0.0.1/32"),
        outbound_timeout=0.3,
    )
    connection_id = await key_connection(setup, pool)
    quick = Setup(impatient, setup.fake, setup.acme, setup.globex, setup.keyring)
    answer = await proxy(quick, "GET", "hang", connection_id=connection_id)
    assert answer.status == 504, answer.body
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "gateway_timeout",
        "Keyed Header did not answer in time",
    )


async def test_a_refresh_the_app_refuses_is_a_conflict_and_the_connection_needs_reauth(
    setup: Setup, pool: db.Pool
) -> None:
    enabled = await setup.acme.call(
        "PUT",
        "/v1/apps/oauthy",
        {"enabled": True, "oauth_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET},
    )
    assert enabled.status == 200, enabled.body
    connection_id = await connect(
        setup,
        pool,
        "oauthy",
        {"kind": "oauth2", "access_token": "at-revoked", "refresh_token": "rt-revoked-too"},
    )
    answer = await proxy(setup, "GET", "echo/x", connection_id=connection_id)
    assert answer.status == 409, answer.body
    assert "re-authorise" in answer.json()["error"]["message"]
    assert "rt-revoked-too" not in answer.body.decode()
    assert len(setup.fake.api_calls("oauthy")) == 1  # not sent again without a token
    status = await pool.fetchval("SELECT status FROM connections WHERE id = $1", connection_id)
    assert status == "needs_reauth"
