"""Key-based connections are checked with the app before they are saved: the catalog's
``verify`` call is made with the credentials as every later call carries them (header, query
or HTTP Basic); a refused key is a clear error where the user typed it (the hosted Link form,
gocobalt's save-key-credentials, Vital's password connect) and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.clients import store as clients
from shared.connectors.catalog import Catalog, load_catalog
from shared.connectors.verify import VerificationFailed, verify_credentials
from shared.infra import db
from shared.infra.outbound import OutboundClient, parse_networks
from tests.fakes.proxied_app import BASIC_USER, GOOD_KEY, ProxiedApps, catalog_overrides
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory
from tests.link_browser import Browser, link_token, open_link, shown_public_token
from tests.processes import free_port

BASE_URL = "http://127.0.0.1:8080"


@dataclass
class Apps:
    fake: ProxiedApps
    folder: Path
    catalog: Catalog


@pytest.fixture
async def apps(start_fake: StartFake, tmp_path: Path) -> Apps:
    fake = await start_fake(ProxiedApps())
    folder = catalog_overrides(
        tmp_path, fake.url, unreachable_url=f"http://127.0.0.1:{free_port()}"
    )
    return Apps(fake, folder, load_catalog(str(folder)))


async def verify(
    apps: Apps, http: OutboundClient, slug: str, key: str, fields: dict[str, str] | None = None
) -> None:
    app = apps.catalog.get(slug)
    assert app is not None
    await verify_credentials(
        http=http,
        app=app,
        credentials={"kind": app.auth_kind, "api_key": key},
        fields=fields or {},
        base_url=BASE_URL,
    )


# --- verify_credentials, on its own ------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "fields"),
    [("keyed_header", {}), ("keyed_query", {}), ("keyed_basic", {"email": BASIC_USER})],
)
async def test_a_key_the_app_accepts_passes(
    apps: Apps, loopback_allowed: OutboundClient, slug: str, fields: dict[str, str]
) -> None:
    await verify(apps, loopback_allowed, slug, GOOD_KEY, fields)
    [call] = apps.fake.api_calls(slug)
    assert (call.method, call.path) == ("GET", "/v2/me")


@pytest.mark.parametrize(
    ("slug", "fields", "message"),
    [
        ("keyed_header", {}, "the API key was refused by Keyed Header"),
        ("keyed_query", {}, "the API key was refused by Keyed Query"),
        (
            "keyed_basic",
            {"email": BASIC_USER},
            "the username or password was refused by Keyed Basic",
        ),
    ],
)
async def test_a_key_the_app_refuses_fails_with_a_message_naming_the_app(
    apps: Apps, loopback_allowed: OutboundClient, slug: str, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(VerificationFailed) as failed:
        await verify(apps, loopback_allowed, slug, "key-wrong-0000", fields)
    assert failed.value.message == message
    assert "key-wrong-0000" not in str(failed.value)
    assert len(apps.fake.api_calls(slug)) == 1


async def test_an_app_that_cannot_be_reached_fails_clearly(
    apps: Apps, loopback_allowed: OutboundClient, guarded: OutboundClient
) -> None:
    with pytest.raises(VerificationFailed) as down:
        await verify(apps, loopback_allowed, "keyed_down", GOOD_KEY)
    assert down.value.message == "could not reach Keyed Down to check the key"
    # An address the outbound guard refuses (loopback, not allow-listed) is not reached either.
    with pytest.raises(VerificationFailed) as blocked:
        await verify(apps, guarded, "keyed_header", GOOD_KEY)
    assert blocked.value.message == "could not reach Keyed Header to check the key"
    assert apps.fake.calls == []


async def test_an_app_without_a_verify_call_passes_unchecked(
    apps: Apps, loopback_allowed: OutboundClient
) -> None:
    await verify(apps, loopback_allowed, "keyed_unchecked", "anything")
    assert apps.fake.calls == []


# --- where users type keys ----------------------------------------------------------------


@dataclass
class Site:
    acme: Api
    fake: ProxiedApps
    browser: Browser


@pytest.fixture
async def site(make_client: AppFactory, pool: db.Pool, apps: Apps) -> AsyncIterator[Site]:
    http = await make_client(
        catalog_overrides=str(apps.folder),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
    )
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    browser = Browser(str(http.make_url("/")))
    yield Site(acme, apps.fake, browser)
    await browser.close()


async def _rows(pool: db.Pool, slug: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM connections WHERE app = $1", slug)
    return count


async def test_hosted_form_shows_a_refused_key_and_stores_nothing_then_connects(
    site: Site, pool: db.Pool
) -> None:
    picker = await open_link(site.browser, await link_token(site.acme))
    csrf = picker.hidden_fields()["csrf"]
    form = "/link/session/apps/keyed_header"
    wrong = await site.browser.post(
        form, {"csrf": csrf, "submitted": "1", "api_key": "key-wrong-0000"}
    )
    assert wrong.status == 200
    assert "The API key was refused by Keyed Header" in wrong.text
    assert 'name="api_key"' in wrong.text  # the form again, to try once more
    assert "key-wrong-0000" not in wrong.text  # a secret field is never shown back
    assert await _rows(pool, "keyed_header") == 0

    right = await site.browser.post(form, {"csrf": csrf, "submitted": "1", "api_key": GOOD_KEY})
    assert right.status == 200
    exchanged = await site.acme.call(
        "POST", "/link/token/exchange", {"public_token": shown_public_token(right)}
    )
    assert exchanged.body["app"] == "keyed_header"
    assert await _rows(pool, "keyed_header") == 1
    assert [c.headers["X-Api-Token"] for c in site.fake.api_calls("keyed_header")] == [
        "key-wrong-0000",
        GOOD_KEY,
    ]


async def _cobalt_save(site: Site, key: str) -> Any:
    await site.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "acct-1"})
    return await site.acme.call(
        "PUT",
        "/api/v2/public/linked-account/integration/save-key-credentials/keyed_query",
        {"api_key": key},
        auth="none",
        headers={"x-api-key": site.acme.credentials.api_key, "linked_account_id": "acct-1"},
    )


async def test_gocobalt_key_save_refuses_a_wrong_key(site: Site, pool: db.Pool) -> None:
    wrong = await _cobalt_save(site, "key-wrong-0000")
    assert wrong.status == 400, wrong.body  # gocobalt answers a bad field with its 400
    assert "the API key was refused by Keyed Query" in wrong.body["message"], wrong.body
    assert "key-wrong-0000" not in str(wrong.body)
    assert await _rows(pool, "keyed_query") == 0
    right = await _cobalt_save(site, GOOD_KEY)
    assert right.status == 200, right.body
    assert await _rows(pool, "keyed_query") == 1


async def test_vital_password_connect_reports_a_refused_key(site: Site, pool: db.Pool) -> None:
    headers = {"x-vital-api-key": site.acme.credentials.api_key}
    user = await site.acme.call(
        "POST", "/v2/user", {"client_user_id": "p-1"}, auth="none", headers=headers
    )
    token = await site.acme.call(
        "POST", "/v2/link/token", {"user_id": user.body["user_id"]}, auth="none", headers=headers
    )
    linked = await site.acme.call(
        "POST",
        "/v2/link/provider/password/keyed_header",
        {"username": "", "password": "key-wrong-0000"},
        auth="none",
        headers={**headers, "x-vital-link-token": token.body["link_token"]},
    )
    assert linked.status == 200, linked.body
    assert (linked.body["state"], linked.body["error_type"]) == (
        "error",
        "provider_credential_error",
    )
    assert linked.body["error"] == "the API key was refused by Keyed Header"
    assert await _rows(pool, "keyed_header") == 0
