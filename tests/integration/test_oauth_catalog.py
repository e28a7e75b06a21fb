"""Every OAuth2 app of the catalog connects through its provider's documented quirks: the
generic fake provider (tests/fakes/providers.py) plays each app from its own catalog entry,
and each app goes through a headless connect (authorize redirect, callback, code exchange),
a forced refresh, and a refused code. Apps added to the catalog are covered automatically."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from shared.connectors.catalog import load_catalog
from shared.infra import db
from tests.fakes.server import StartFake
from tests.helpers import AppFactory
from tests.link_browser import Browser, Page
from tests.oauth_fixtures import (
    REDIRECT,
    OAuthWorld,
    credentials_for_use,
    enable,
    expire_stored_token,
    oauth_world,
    stored_credentials,
    third_party_oauth_apps,
    typed_fields,
)


@pytest.fixture
async def world(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> OAuthWorld:
    return await oauth_world(
        make_client=make_client, pool=pool, start_fake=start_fake, folder=tmp_path
    )


@pytest.fixture
async def browser(world: OAuthWorld) -> AsyncIterator[Browser]:
    b = Browser(str(world.http.make_url("/")))
    yield b
    await b.close()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _consent(world: OAuthWorld, browser: Browser, slug: str) -> Page:
    """Ask for a headless authorization URL and let the fake consent: the redirect back."""
    await enable(world, slug)
    app = world.app(slug)
    created = await world.acme.call(
        "POST",
        "/v1/connect/oauth-url",
        {
            "linked_account_id": "user-1",
            "app": slug,
            "fields": typed_fields(world, app),
            "redirect_url": REDIRECT,
        },
    )
    assert created.status == 201, created.body
    consent = await browser.get(created.body["authorize_url"])
    assert consent.status == 302, consent.text
    assert consent.location is not None
    assert consent.location.startswith(world.callback_url + "?"), consent.location
    assert "error" not in consent.query, consent.query
    return consent


@pytest.mark.parametrize("slug", third_party_oauth_apps())
async def test_the_app_connects_and_refreshes_through_its_provider(
    world: OAuthWorld, browser: Browser, pool: db.Pool, slug: str
) -> None:
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    app = world.app(slug)
    spec = app.oauth
    assert spec is not None
    provider = world.fake.state(slug)
    consent = await _consent(world, browser, slug)

    # The authorize request, as the app documents it (the fake refused anything else).
    [asked] = provider.authorize_requests
    assert asked.params["redirect_uri"] == world.callback_url
    assert asked.params.get("scope", "") == spec.scope_separator.join(spec.scopes)
    assert ("code_challenge" in asked.params) is spec.pkce

    final = await browser.get(consent.location or "")
    assert final.status == 303, final.text
    assert final.location is not None
    back = _query(final.location)
    assert final.location.startswith(REDIRECT + "?")
    assert back["status"] == "success", back
    connection_id = back["connection_id"]
    assert provider.token_calls["authorization_code"] == 1

    # Stored: the tokens, fields learned from the token answer and callback, the account id.
    row = await pool.fetchrow(
        "SELECT app, linked_account_id, provider_account_id, fields FROM connections"
    )
    assert row is not None
    assert (row["app"], row["linked_account_id"]) == (slug, "user-1")
    fields = row["fields"]
    for key in [*spec.token_fields, *spec.callback_fields]:
        assert fields.get(key), (key, fields)
    if spec.account_id_field:
        assert (row["provider_account_id"] or "").startswith(f"acct-{slug}-")
    creds = await stored_credentials(world, connection_id)
    assert creds["access_token"] in world.fake.apps[slug].valid_credentials

    if not (spec.refresh and creds.get("refresh_token")):
        return
    old_access, old_refresh = creds["access_token"], creds["refresh_token"]
    await expire_stored_token(world, connection_id)
    fresh = await credentials_for_use(world, connection_id)
    assert provider.token_calls["refresh_token"] == 1
    assert fresh["access_token"] != old_access
    assert fresh["access_token"] in world.fake.apps[slug].valid_credentials
    stored = await stored_credentials(world, connection_id)
    assert stored["access_token"] == fresh["access_token"]
    if spec.refresh_rotates:
        assert stored["refresh_token"] != old_refresh
        assert old_refresh not in provider.refresh_tokens  # the provider refuses it now
        assert stored["refresh_token"] in provider.refresh_tokens
    else:
        assert stored["refresh_token"] == old_refresh


@pytest.mark.parametrize("slug", third_party_oauth_apps())
async def test_a_code_the_provider_refuses_ends_the_flow_in_error(
    world: OAuthWorld, browser: Browser, pool: db.Pool, slug: str
) -> None:
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    consent = await _consent(world, browser, slug)
    assert consent.location is not None
    tampered = consent.location.replace(f"code={consent.query['code']}", "code=not-a-code")

    final = await browser.get(tampered)

    assert final.location is not None
    back = _query(final.location)
    assert back["error"] == "oauth_token_failed", back
    assert world.app(slug).name in back["error_description"]
    assert world.fake.state(slug).token_calls["authorization_code"] == 1
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0


def _revocable_apps() -> list[str]:
    return [
        slug
        for slug in third_party_oauth_apps()
        if (spec := load_catalog().get(slug)) and spec.oauth and spec.oauth.revoke_url
    ]


@pytest.mark.parametrize("slug", _revocable_apps())
async def test_the_fake_revokes_as_the_app_documents(
    world: OAuthWorld, browser: Browser, slug: str
) -> None:
    """The fake's revocation endpoint takes each app's revoke_* quirks (for revocation tests)."""
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    consent = await _consent(world, browser, slug)
    final = await browser.get(consent.location or "")
    creds = await stored_credentials(world, _query(final.location or "")["connection_id"])
    spec = world.app(slug).oauth
    assert spec is not None
    assert spec.revoke_url is not None
    token = creds[spec.revoke_token] or creds["access_token"]
    url = spec.revoke_url.replace("{token}", token)
    payload = {} if "{token}" in spec.revoke_url else {spec.revoke_param: token}
    async with aiohttp.ClientSession() as session:
        if spec.revoke_method == "GET":
            sent = session.get(url, params=payload)
        elif spec.revoke_request_format == "json":
            sent = session.request(spec.revoke_method, url, json=payload)
        else:
            sent = session.request(spec.revoke_method, url, data=payload)
        async with sent as reply:
            assert reply.status == 200

    [revoked] = world.fake.state(slug).revocations
    assert revoked.path.endswith(f"/{token}") or token in revoked.params.values()
    if spec.revoke_token == "access_token":
        assert token not in world.fake.apps[slug].valid_credentials
    else:
        assert token not in world.fake.state(slug).refresh_tokens
