"""A refresh may change what the connection learned from the token answer: Salesforce answers
the org's current ``instance_url`` (its API host) with every token, and an org moved to
another instance is reached there from the next call on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.infra import db
from tests.fakes.server import StartFake
from tests.helpers import AppFactory
from tests.link_browser import Browser
from tests.oauth_fixtures import (
    REDIRECT,
    OAuthWorld,
    credentials_for_use,
    enable,
    expire_stored_token,
    oauth_world,
)

MOVED = "https://acme-moved.my.salesforce.com"


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


async def _fields(pool: db.Pool, connection_id: str) -> dict[str, str]:
    fields: dict[str, str] = await pool.fetchval(
        "SELECT fields FROM connections WHERE id = $1::uuid", connection_id
    )
    return fields


async def test_a_refresh_stores_the_instance_url_it_answers(
    world: OAuthWorld, browser: Browser, pool: db.Pool
) -> None:
    await world.acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user-1"})
    await enable(world, "salesforce")
    created = await world.acme.call(
        "POST",
        "/v1/connect/oauth-url",
        {"linked_account_id": "user-1", "app": "salesforce", "redirect_url": REDIRECT},
    )
    assert created.status == 201, created.body
    consent = await browser.get(created.body["authorize_url"])
    assert consent.location is not None
    back = await browser.get(consent.location)
    assert back.location is not None
    connection_id = parse_qs(urlsplit(back.location).query)["connection_id"][0]
    first = await _fields(pool, connection_id)
    assert first["instance_url"] == f"{world.fake.url}/salesforce/api"

    world.fake.state("salesforce").token_field_overrides["instance_url"] = MOVED
    await expire_stored_token(world, connection_id)
    await credentials_for_use(world, connection_id)

    assert world.fake.state("salesforce").token_calls["refresh_token"] == 1
    assert (await _fields(pool, connection_id))["instance_url"] == MOVED
