"""A real browser (Debian's headless Chromium, driven by Playwright) through the JS SDK.

The demo page is served from a different origin than Linkport, as a product's page
would be: the SDK opens Link in a popup, the user signs in to the sandbox, and the
popup hands the public token back with postMessage to that exact origin.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page

from tests.fakes import StartFake
from tests.fakes.demo_site import DemoSite
from tests.helpers import Api

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


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


async def test_emr_seed_page_cobalt_link_init_opens_link_at_once(
    acme: Api, chromium: Browser, demo_origin: str
) -> None:
    """The seed's pattern: a button's onclick calls launch_cobalt(), which only calls
    CobaltLink.init({token, onSuccess}); Link opens, and the backend exchanges the public
    token with the API reference's GET."""
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [demo_origin + "/emr"]})
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u3", "org_id": "o1"})).body[
        "token"
    ]
    page = await chromium.new_page()
    await page.goto(f"{demo_origin}/emr?token={token}")
    async with page.expect_popup() as popup_info:
        await page.click("#launch")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    await popup.click('button[data-app="sandbox"]')
    await popup.wait_for_selector("#username")
    await popup.fill("#username", "user_good")
    await popup.fill("#password", "pass_good")
    await popup.click("#approve")
    await page.wait_for_function(
        "document.getElementById('result').textContent.startsWith('success')", timeout=15000
    )
    result = await page.text_content("#result")
    assert result is not None
    public_token = result.split(" ")[1]
    exchanged = await acme.call(
        "GET", f"/link/token/exchange?public_token={quote(public_token)}", auth="secret"
    )
    assert exchanged.status == 200, exchanged.body
    assert exchanged.body["success"] is True
    assert exchanged.body["token"].startswith("at_")
