"""The README's example: one app event creates a HubSpot contact and posts to Slack.

The end user connects both apps through Linkport's OAuth flow (headless connect, against the
generic fake provider playing HubSpot's and Slack's OAuth from their catalog entries); a
workflow on HubSpot takes ``contact.created``, creates the contact, then posts a message
naming it in the Slack channel the account's config chose. The fakes of HubSpot's and
Slack's APIs (tests/fakes/apps) check each call as the real APIs do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.infra import db
from tests.fakes.server import StartFake
from tests.helpers import AppFactory
from tests.link_browser import Browser
from tests.oauth_fixtures import REDIRECT, OAuthWorld, enable, oauth_world
from tests.workflow_fixtures import run_queued, worker_settings

ACCOUNT = "user-1"
HUBSPOT_AND_SLACK = {
    "name": "New contact: HubSpot, then Slack",
    "app": "hubspot",
    "trigger": {"event": "contact.created"},
    "fields": [{"key": "channel", "label": "Slack channel", "type": "text", "default": "#sales"}],
    "steps": [
        {
            "id": "contact",
            "action": "hubspot.create_contact",
            "input": {
                "email": "{{ event.email }}",
                "firstname": "{{ event.first }}",
                "lastname": "{{ event.last }}",
            },
        },
        {
            "id": "notify",
            "action": "slack.post_message",
            "input": {
                "channel": "{{ config.channel }}",
                "text": "New contact {{ event.first }} {{ event.last }} (HubSpot {{ steps.contact.id }})",
            },
        },
    ],
}


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


async def _connect(world: OAuthWorld, browser: Browser, slug: str) -> str:
    """The end user connects ``slug`` (headless connect: authorize, consent, callback)."""
    await enable(world, slug)
    created = await world.acme.call(
        "POST",
        "/v1/connect/oauth-url",
        {"linked_account_id": ACCOUNT, "app": slug, "redirect_url": REDIRECT},
    )
    assert created.status == 201, created.body
    consent = await browser.get(created.body["authorize_url"])
    assert consent.location is not None
    back = await browser.get(consent.location)
    assert back.location is not None
    assert "status=success" in back.location, back.location
    return back.location.split("connection_id=")[1].split("&")[0]


async def test_one_event_creates_a_hubspot_contact_and_posts_to_slack(
    world: OAuthWorld, browser: Browser
) -> None:
    api = world.acme
    await api.call("POST", "/v1/linked-accounts", {"linked_account_id": ACCOUNT})
    await _connect(world, browser, "hubspot")
    await _connect(world, browser, "slack")
    sample = {"email": "ada@example.com", "first": "Ada", "last": "Lovelace"}
    defined = await api.call(
        "POST", "/v1/event-definitions", {"name": "contact.created", "sample": sample}
    )
    assert defined.status in (200, 201), defined.body
    workflow = await api.call("POST", "/v1/workflows", HUBSPOT_AND_SLACK)
    assert workflow.status == 201, workflow.body
    config = await api.call("POST", "/v1/configs", {"linked_account_id": ACCOUNT, "app": "hubspot"})
    saved = await api.call(
        "PUT",
        f"/v1/configs/{config.body['id']}",
        {"enabled_workflows": [workflow.body["id"]], "fields": {"channel": "C0GENERAL1"}},
    )
    assert saved.status == 200, saved.body

    sent = await api.call(
        "POST",
        "/v1/events",
        {
            "event": "contact.created",
            "linked_account_id": ACCOUNT,
            "payload": {"email": "grace@example.com", "first": "Grace", "last": "Hopper"},
        },
    )
    assert sent.status == 202, sent.body
    assert await run_queued(worker_settings(api)) == (1, 0, 0)

    event = await api.call("GET", f"/v1/events/{sent.body['event_id']}")
    (execution,) = event.body["executions"]
    detail = await api.call("GET", f"/v1/executions/{execution['id']}")
    assert detail.body["status"] == "succeeded", detail.body["steps"][-1]["error"]
    contact_step, notify_step = detail.body["steps"]

    (created,) = world.fake.apps["hubspot"].calls
    assert (created.method, created.path) == ("POST", "/crm/v3/objects/contacts")
    body: dict[str, Any] = created.body
    assert body["properties"] == {
        "email": "grace@example.com",
        "firstname": "Grace",
        "lastname": "Hopper",
    }
    assert created.headers["Authorization"].startswith("Bearer ")
    contact_id = contact_step["output"]["id"]

    (posted,) = world.fake.apps["slack"].calls
    assert (posted.method, posted.path) == ("POST", "/api/chat.postMessage")
    assert posted.body["channel"] == "C0GENERAL1"
    assert posted.body["text"] == f"New contact Grace Hopper (HubSpot {contact_id})"
    assert notify_step["output"]["channel"] == "C0GENERAL1"
    # Each call carried its own app's token.
    assert created.headers["Authorization"] != posted.headers["Authorization"]
