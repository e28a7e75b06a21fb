"""gocobalt's frontend SDK, ``@cobaltio/cobalt-js`` as npm installs it (tests/e2e/js), in
headless Chromium on a page served from another origin than Linkport, pointed at Linkport
by ``baseUrl`` with a session token: every one of its methods, the OAuth popup included.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.fakes import StartFake
from tests.fakes.cobalt_js_site import COBALT_JS, CobaltJsSite
from tests.helpers import Api
from tests.workflow_fixtures import CREATE_CONTACT_WORKFLOW, create_workflow

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-42"
# cobalt-js 8.0.0's methods: its eight public ones, and the two private ones connect() runs
# for an OAuth2 app (getOAuthUrl, then oauth: the popup and the polling).
METHODS = {
    "getAccountDetails",
    "getApp",
    "connect",
    "getOAuthUrl",
    "oauth",
    "disconnect",
    "config",
    "getConfig",
    "updateConfig",
    "deleteConfig",
}


@pytest.fixture
async def site(start_fake: StartFake) -> CobaltJsSite:
    if not COBALT_JS.is_file():
        pytest.fail(f"{COBALT_JS} is missing: run `make test-deps` (npm ci in tests/e2e/js)")
    return await start_fake(CobaltJsSite())


async def session_token(api: Api) -> str:
    headers = {"x-api-key": api.credentials.api_key}
    await api.call(
        "POST",
        "/api/v2/public/linked-account",
        {"linked_account_id": ACCOUNT, "name": "Acme customer 42"},
        auth="none",
        headers=headers,
    )
    reply = await api.call(
        "POST",
        "/api/v2/public/session-token",
        {"linked_account_id": ACCOUNT},
        auth="none",
        headers=headers,
    )
    assert reply.status == 200, reply.body
    token: str = reply.body["token"]
    return token


async def open_page(chromium: Browser, api: Api, site: CobaltJsSite, token: str) -> Page:
    page = await chromium.new_page()
    page.on("console", lambda message: print("browser:", message.text))
    linkport = str(api.http.make_url("")).rstrip("/")
    await page.goto(f"{site.url}/?token={token}&base={linkport}")
    return page


async def sdk(page: Page, script: str) -> Any:
    """Run ``script`` (an expression over ``cobalt``) in the page and await its promise."""
    return await page.evaluate(f"async () => await ({script})")


async def connect_sandbox_in_popup(page: Page) -> None:
    """connect("sandbox") from a click: the SDK opens Linkport's page for the app in a popup;
    the user continues, signs in to the sandbox and allows; the SDK sees the connection on
    its next poll, closes the popup and resolves true."""
    async with page.expect_popup() as popup_info:
        await page.click("#connect")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    if await popup.locator("#username").count() == 0:  # the app's page: one click to go on
        await popup.click("text=Continue to Sandbox CRM")
    await popup.wait_for_selector("#username")
    await popup.fill("#username", "user_good")
    await popup.fill("#password", "pass_good")
    await popup.click("#approve")
    await page.wait_for_function(
        "document.getElementById('result').textContent !== 'waiting'", timeout=20000
    )
    assert await page.text_content("#result") == "connected true"
    assert popup.is_closed()  # the SDK closed it


async def test_every_cobalt_js_method_works_against_linkport(
    acme: Api, chromium: Browser, site: CobaltJsSite
) -> None:
    await acme.call("PATCH", "/v1/settings", {"name": "Acme", "allowed_origins": [site.url]})
    await acme.call(
        "POST",
        "/v1/event-definitions",
        {"name": "New Contact Created", "sample": {"email": "a@b.c", "first": "A", "last": "B"}},
    )
    workflow_id = await create_workflow(
        acme, {**CREATE_CONTACT_WORKFLOW, "trigger": {"event": "New Contact Created"}}
    )
    page = await open_page(chromium, acme, site, await session_token(acme))
    worked: set[str] = set()

    details = await sdk(page, "cobalt.getAccountDetails()")
    assert details["name"] == "Acme"
    assert details["linked_account_id"] == ACCOUNT
    worked.add("getAccountDetails")

    apps = await sdk(page, "cobalt.getApp()")
    assert {a["slug"] for a in apps} == {"sandbox", "sandbox_apikey"}
    before = await sdk(page, "cobalt.getApp('sandbox')")
    assert (before["auth_type"], before["connected"]) == ("oauth2", False)
    worked.add("getApp")

    await connect_sandbox_in_popup(page)
    after = await sdk(page, "cobalt.getApp('sandbox')")
    assert after["connected"] is True
    assert after["reauth_required"] is False
    assert after["connected_accounts"][0]["status"] == "active"
    worked |= {"connect", "getOAuthUrl", "oauth"}

    # A key-based app: connect(slug, fields) saves the fields.
    assert await sdk(page, "cobalt.connect('sandbox_apikey', {api_key: 'key-123'})") is True
    assert (await sdk(page, "cobalt.getApp('sandbox_apikey')"))["connected"] is True

    config = await sdk(page, "cobalt.config({slug: 'sandbox', config_id: 'main', labels: []})")
    assert config["config_id"] == "main"
    assert [w["id"] for w in config["workflows"]] == [workflow_id]
    assert config["workflows"][0]["enabled"] is False
    worked.add("config")

    updated = await sdk(
        page,
        "cobalt.updateConfig({slug: 'sandbox', config_id: 'main', fields: {}, "
        f"workflows: [{{id: '{workflow_id}', enabled: true, fields: {{source: 'web'}}}}]}})",
    )
    assert updated["workflows"][0]["enabled"] is True
    assert updated["workflows"][0]["fields"][0]["value"] == "web"
    worked.add("updateConfig")

    got = await sdk(page, "cobalt.getConfig('sandbox', 'main')")
    assert got == updated
    worked.add("getConfig")

    deleted = await sdk(page, "cobalt.deleteConfig('sandbox', 'main')")
    assert deleted == {"message": "Installation Deleted Success"}
    missing = await sdk(
        page, "cobalt.getConfig('sandbox', 'main').then(() => 'found', e => e.message)"
    )
    assert missing == "Not Found"  # 8.0.0 throws new Error(res.statusText)
    worked.add("deleteConfig")

    assert await sdk(page, "cobalt.disconnect('sandbox')") is None
    assert (await sdk(page, "cobalt.getApp('sandbox')"))["connected"] is False
    worked.add("disconnect")

    assert worked == METHODS
    print(f"cobalt-js 8.0.0: {len(worked)} of {len(METHODS)} methods work against Linkport")


async def test_cobalt_js_from_an_origin_not_allowed_cannot_read_answers(
    acme: Api, chromium: Browser, site: CobaltJsSite
) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_origins": ["https://app.acme.test"]})
    page = await open_page(chromium, acme, site, await session_token(acme))
    outcome = await sdk(page, "cobalt.getApp('sandbox').then(() => 'read', e => e.name)")
    assert outcome == "TypeError"  # fetch refused by the browser: CORS
