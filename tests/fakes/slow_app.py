"""A third-party API that takes its time: long enough to kill or cancel its caller mid-call."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.server import FakeServer


class SlowApp(FakeServer):
    """``POST /slow`` answers ``{"ok": true}`` after ``delay`` seconds; records each call's
    Idempotency-Key as it arrives."""

    def __init__(self, *, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.idempotency_keys: list[str] = []

    @property
    def endpoint(self) -> str:
        """The URL a workflow step calls."""
        return self.url + "/slow"

    def routes(self, router: web.UrlDispatcher) -> None:
        """``POST /slow``."""
        router.add_post("/slow", self._slow)

    async def _slow(self, request: web.Request) -> web.Response:
        self.idempotency_keys.append(request.headers.get("Idempotency-Key", ""))
        await asyncio.sleep(self.delay)
        return web.json_response({"ok": True})
