"""Vital's official SDK drives a live Linkport through a wearables app's OAuth flow: the
operator's catalog override (``LINKPORT_CATALOG_OVERRIDES``) points ``oura`` at a fake Oura
(tests/fakes/oura.py), the tenant enables it with its own OAuth client, and an end user's
browser goes Linkport's hosted flow → Oura's consent → Linkport's callback (the code traded
at Oura's token endpoint with client_secret_post) → the client's redirect URL."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.gateway.appkeys import RESOURCES
from shared.clients import store as clients
from shared.connections.credentials import CredentialSource, current_credentials
from shared.connectors.base import ActionContext
from shared.infra import db
from shared.infra.outbound import parse_networks
from shared.link.flow import CALLBACK_PATH
from tests.fakes.oura import FakeOura
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory
from tests.link_browser import Browser, Page

with warnings.catch_warnings():  # the SDK's pydantic v1-style models warn when defined
    warnings.simplefilter("ignore")
    from vital import AsyncVital

pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore:Valid config keys have changed in V2:UserWarning"),
]

REDIRECT = "https://app.acme.test/vital"


@dataclass
class Setup:
    acme: Api
    oura: FakeOura
    vital: AsyncVital
    browser: Browser


def override(folder: Path, fake_url: str) -> Path:
    """The shipped oura.toml with its hosts replaced by the fake's, as an operator would."""
    shipped = resources.files("shared.connectors.catalog") / "apps" / "oura.toml"
    text = (
        shipped.read_text()
        .replace("https://cloud.ouraring.com", fake_url)
        .replace("https://api.ouraring.com", fake_url)
    )
    assert text.count(fake_url) == 5  # api base, token, revoke; docs, authorize
    (folder / "oura.toml").write_text(text)
    return folder


@pytest.fixture
async def setup(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> AsyncIterator[Setup]:
    oura = await start_fake(FakeOura(client_id="acme-oura-id", client_secret="acme-oura-s3cret"))
    http = await make_client(
        catalog_overrides=str(override(tmp_path, oura.url)),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
    )
    oura.redirect_uris = [str(http.make_url(CALLBACK_PATH))]
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    enabled = await acme.call(
        "PUT",
        "/v1/apps/oura",
        {
            "enabled": True,
            "oauth_client_id": oura.client_id,
            "oauth_client_secret": "acme-oura-s3cret",
        },
    )
    assert enabled.status == 200, enabled.body
    settings = await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [REDIRECT]})
    assert settings.status == 200, settings.body
    browser = Browser(str(http.make_url("/")))
    async with httpx.AsyncClient(timeout=30) as client:
        vital = AsyncVital(
            api_key=acme.credentials.api_key, base_url=str(http.make_url("/")), httpx_client=client
        )
        yield Setup(acme, oura, vital, browser)
    await browser.close()


async def start_link(setup: Setup) -> tuple[str, Page]:
    """A Vital user and an Oura link; the browser opened the oauth_url and stands at Oura's
    authorize URL. Returns the user id and that page (Oura's redirect back)."""
    user = await setup.vital.user.create(client_user_id="ring-owner")
    token = await setup.vital.link.token(
        user_id=user.user_id,
        provider=_enum("oura"),
        redirect_url=REDIRECT,
        on_error="redirect",
        on_close="redirect",
    )
    source = await setup.vital.link.generate_oauth_link(
        _enum("oura"), vital_link_token=token.link_token
    )
    assert source.slug == "oura"
    assert source.oauth_url is not None
    to_oura = await setup.browser.get(source.oauth_url)
    assert to_oura.status == 303, to_oura.text
    assert to_oura.location is not None
    assert to_oura.location.startswith(f"{setup.oura.url}/oauth/authorize?")
    consent = await setup.browser.get(to_oura.location)
    assert consent.status == 302, consent.text
    assert consent.location is not None
    assert consent.location.startswith(setup.oura.redirect_uris[0] + "?")
    return user.user_id, consent


async def test_the_sdk_connects_oura_through_its_oauth_flow(setup: Setup) -> None:
    oura = setup.oura
    user_id, consent = await start_link(setup)

    # Linkport asked Oura as Oura documents: code flow, its client id, the catalog's scopes.
    [asked] = oura.authorize_requests
    assert asked.params["response_type"] == "code"
    assert asked.params["client_id"] == "acme-oura-id"
    assert asked.params["redirect_uri"] == oura.redirect_uris[0]
    assert asked.params["scope"] == "daily heartrate personal"
    assert asked.params["state"] == consent.query["state"]
    assert "code_challenge" not in asked.params  # pkce = false for Oura

    final = await setup.browser.get(consent.location or "")
    assert final.location == f"{REDIRECT}?state=success"

    # One token request: the code, the same redirect URI, client_secret_post (no Basic).
    [exchange] = oura.token_requests
    assert exchange.params == {
        "grant_type": "authorization_code",
        "code": consent.query["code"],
        "redirect_uri": oura.redirect_uris[0],
        "client_id": "acme-oura-id",
        "client_secret": "acme-oura-s3cret",
    }
    assert exchange.authorization is None

    connected = await setup.vital.user.get_connected_providers(user_id)
    [provider] = connected["providers"]
    assert (provider.slug, provider.status) == ("oura", "connected")

    # The stored connection works against Oura's API, and refreshes with Oura's grant.
    token = await _stored_access_token(setup, rejected=None)
    assert await _personal_info(setup, token) == 200
    fresh = await _stored_access_token(setup, rejected=token)
    assert fresh != token
    refresh = oura.token_requests[-1]
    assert refresh.params["grant_type"] == "refresh_token"
    assert (refresh.params["client_id"], refresh.params["client_secret"]) == (
        "acme-oura-id",
        "acme-oura-s3cret",
    )
    assert refresh.authorization is None
    assert await _personal_info(setup, fresh) == 200
    assert [r.authorization for r in oura.api_requests] == [f"Bearer {token}", f"Bearer {fresh}"]


async def test_a_code_oura_refuses_ends_the_flow_in_error(setup: Setup) -> None:
    user_id, consent = await start_link(setup)
    assert consent.location is not None
    parts = urlsplit(consent.location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = parts._replace(
        query=f"code=not-a-code&state={query['state']}&scope={query['scope']}"
    ).geturl()

    final = await setup.browser.get(tampered)

    assert final.location is not None
    assert final.location.startswith(f"{REDIRECT}?")
    back = {k: v[0] for k, v in parse_qs(urlsplit(final.location).query).items()}
    assert back["state"] == "error"
    assert "invalid_grant" in back["error"]
    [exchange] = setup.oura.token_requests
    assert exchange.params["code"] == "not-a-code"
    assert (await setup.vital.user.get_connected_providers(user_id))["providers"] == []


async def _stored_access_token(setup: Setup, *, rejected: str | None) -> str:
    """The connection's access token as a worker reads it (``rejected``: refresh it first)."""
    listed = await setup.acme.call("GET", "/v1/connections?app=oura")
    [connection] = listed.body["data"]
    res = setup.acme.http.app[RESOURCES]
    source = CredentialSource(res.pool, res.redis, res.keyring, res.catalog, res.http, res.settings)
    creds = await current_credentials(
        source,
        tenant=setup.acme.tenant,
        connection_id=uuid.UUID(connection["id"]),
        rejected_token=rejected,
    )
    token: str = creds["access_token"]
    return token


async def _personal_info(setup: Setup, token: str) -> int:
    res = setup.acme.http.app[RESOURCES]
    app = res.catalog.get("oura")
    assert app is not None
    context = ActionContext(
        credentials={},
        api_base_url=app.api_base_url,
        idempotency_key="-",
        client=res.http,
        from_catalog=True,
    )
    reply = await context.call_api(
        "GET", "/v2/usercollection/personal_info", headers={"Authorization": f"Bearer {token}"}
    )
    return reply.status


def _enum(value: str) -> Any:
    """A provider slug where the SDK's signature names its own enum (Fern enums accept any)."""
    return value
