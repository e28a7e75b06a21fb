"""A real browser (Debian's headless Chromium, driven by Playwright) through the JS SDK.

The demo page is served from a different origin than Linkport, as a product's page
would be: the SDK opens Link in a popup, the user signs in to the sandbox, and the
popup hands the public token back with postMessage to that exact origin.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.fakes import StartFake
from tests.fakes.demo_site import DemoSite
from tests.helpers import Api

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("LINKPORT_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
# What the machine's Chromium needs headless, as root, with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium from the machine (Playwright never downloads a browser here)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def demo_origin(acme: Api, start_fake: StartFake) -> str:
    """The product's own page, on another origin, loading the SDK from Linkport."""
    site = await start_fake(DemoSite(str(acme.http.make_url(""))))
    return site.url


async def _connect_through_popup(page: Page, *, screenshot: Path | None) -> None:
    async with page.expect_popup() as popup_info:
        await page.click("#connect")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    await popup.wait_for_selector("text=Sandbox CRM")
    if screenshot is not None:
        await popup.screenshot(path=str(screenshot), full_page=True)
    await popup.click('button[data-app="sandbox"]')
    await popup.wait_for_selector("#username")
    await popup.fill("#username", "user_good")
    await popup.fill("#password", "pass_good")
    await popup.click("#approve")


async def test_js_sdk_popup_hands_the_public_token_to_on_success(
    acme: Api, chromium: Browser, demo_origin: str
) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [demo_origin + "/"]})
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o1"})).body[
        "token"
    ]
    page = await chromium.new_page()
    await page.goto(f"{demo_origin}/?token={token}")
    ARTIFACTS.mkdir(exist_ok=True)
    await _connect_through_popup(page, screenshot=ARTIFACTS / "hosted-link-page.png")
    await page.wait_for_function(
        "document.getElementById('result').textContent.startsWith('success')", timeout=15000
    )
    result = await page.text_content("#result")
    assert result is not None
    _, public_token, app = result.split(" ")
    assert public_token.startswith("pt_")
    assert app == "sandbox"
    exchanged = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert exchanged.status == 200
    assert exchanged.body["app"] == "sandbox"
    assert (ARTIFACTS / "hosted-link-page.png").stat().st_size > 5000


async def test_js_sdk_from_an_origin_not_allowed_gets_no_token(
    acme: Api, chromium: Browser, demo_origin: str
) -> None:
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o1"})).body[
        "token"
    ]
    page = await chromium.new_page()
    await page.goto(f"{demo_origin}/?token={token}")
    async with page.expect_popup() as popup_info:
        await page.click("#connect")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    assert "origin_not_allowed" in await popup.content()
    await popup.close()
    await page.wait_for_function(
        "document.getElementById('result').textContent.startsWith('exit')", timeout=5000
    )
    assert await page.text_content("#result") == "exit null"


async def test_newcomer_path_open_the_printed_link_in_a_browser(
    acme: Api, chromium: Browser
) -> None:
    """The README's path: open /link?token=… directly, sign in, read the public token off the page."""
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u2", "org_id": "o1"})).body[
        "token"
    ]
    page = await chromium.new_page()
    await page.goto(str(acme.http.make_url(f"/link?token={token}")))
    await page.click('button[data-app="sandbox"]')
    await page.fill("#username", "user_good")
    await page.fill("#password", "wrong")
    await page.click("#approve")
    assert "Wrong username or password" in await page.content()
    await page.fill("#password", "pass_good")
    await page.click("#approve")
    public_token = await page.text_content("#public-token")
    assert public_token is not None
    assert public_token.startswith("pt_")
    await page.screenshot(path=str(ARTIFACTS / "hosted-link-done.png"), full_page=True)
    exchanged = await acme.call("POST", "/link/token/exchange", {"public_token": public_token})
    assert exchanged.status == 200
