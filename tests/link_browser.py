"""A minimal browser for the hosted Link flow: a cookie jar, manual redirects, form fields."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp

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
