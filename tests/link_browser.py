"""A minimal browser for the hosted Link flow (a cookie jar, manual redirects, form fields),
and the flow's steps as an end user takes them with it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp

from tests.helpers import Api

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class Page:
    """One response: status, final URL, headers, body text."""

    status: int
    url: str
    location: str | None
    text: str
    set_cookie: list[str]

    def hidden_fields(self) -> dict[str, str]:
        """The hidden inputs of the page's forms (the last value wins)."""
        return {name: html.unescape(value) for name, value in _HIDDEN.findall(self.text)}

    @property
    def query(self) -> dict[str, str]:
        """The query of the Location header."""
        assert self.location is not None
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}


class Browser:
    """Keeps cookies like a browser; does not follow redirects unless asked."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        """Drop the cookie jar and connections."""
        await self.session.close()

    async def _send(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        target = urljoin(self.base_url, url)
        async with self.session.request(method, target, data=data, allow_redirects=False) as reply:
            location = reply.headers.get("Location")
            return Page(
                reply.status,
                target,
                urljoin(target, location) if location else None,
                await reply.text(),
                reply.headers.getall("Set-Cookie", []),
            )

    async def get(self, url: str) -> Page:
        """GET without following redirects."""
        return await self._send("GET", url)

    async def post(self, url: str, data: dict[str, str]) -> Page:
        """POST a form without following redirects."""
        return await self._send("POST", url, data)

    async def follow(self, page: Page, limit: int = 10) -> Page:
        """Follow a chain of redirects with GETs."""
        while page.location is not None and page.status in (301, 302, 303, 307) and limit:
            page = await self.get(page.location)
            limit -= 1
        return page


EMR_LINK = {"user_id": "user_12345", "org_id": "org_67890"}


async def link_token(api: Api, body: dict[str, object] | None = None) -> str:
    reply = await api.call("POST", "/link/token/create", body or EMR_LINK, auth="secret")
    assert reply.status == 200
    token: str = reply.body["token"]
    return token


async def open_link(browser: Browser, token: str, **query: str) -> Page:
    """Open the hosted page; returns the app picker (or whatever the session page shows)."""
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    opened = await browser.get(f"/link?token={token}{extra}")
    assert opened.status == 303, opened.text
    assert opened.location is not None
    assert opened.location.endswith("/link/session")
    cookie = opened.set_cookie[0]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/link" in cookie
    return await browser.follow(opened)


async def start_sandbox_oauth(browser: Browser, picker: Page) -> Page:
    """Click Connect on the sandbox: lands on the sandbox's login page."""
    csrf = picker.hidden_fields()["csrf"]
    to_provider = await browser.post("/link/session/apps/sandbox", {"csrf": csrf})
    assert to_provider.status == 303
    assert to_provider.location is not None
    assert "/sandbox/oauth/authorize?" in to_provider.location
    query = to_provider.query
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert query["redirect_uri"].endswith("/link/oauth/callback")
    login = await browser.get(to_provider.location)
    assert login.status == 200
    assert "user_good" in login.text
    return login


async def sign_in(
    browser: Browser, login: Page, password: str = "pass_good", action: str = "approve"
) -> Page:
    """Submit the sandbox login form; returns the sandbox's answer (a redirect when it worked)."""
    form = {
        **login.hidden_fields(),
        "username": "user_good",
        "password": password,
        "action": action,
    }
    return await browser.post("/sandbox/oauth/authorize", form)


async def run_flow(browser: Browser, token: str) -> Page:
    """The whole happy path: open, pick the sandbox, sign in; returns the final page."""
    picker = await open_link(browser, token)
    login = await start_sandbox_oauth(browser, picker)
    back = await sign_in(browser, login)
    assert back.status == 303
    return await browser.follow(back)


def shown_public_token(page: Page) -> str:
    match = re.search(r'id="public-token">(pt_[A-Za-z0-9_-]+)<', page.text)
    assert match, page.text
    return match.group(1)
