"""A third-party API that answers every call with what it was sent, and records each call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer


@dataclass(frozen=True)
class Call:
    """One request the app received."""

    path: str
    idempotency_key: str | None
    authorization: str | None
    body: Any


class EchoApp(FakeServer):
    """Any method, any path: ``{"ok": true, "seen": <the JSON body>}``. The first call to each
    ``/flaky/...`` path fails with a 500, as a flaky API does, so a retry can be watched."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self._failed: set[str] = set()

    def routes(self, router: web.UrlDispatcher) -> None:
        """Every path."""
        router.add_route("*", "/{tail:.*}", self._answer)

    def calls_to(self, path: str) -> list[Call]:
        """The calls made to ``path``, in order."""
        return [call for call in self.calls if call.path == path]

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.calls.append(
            Call(
                request.path,
                request.headers.get("Idempotency-Key"),
                request.headers.get("Authorization"),
                body,
            )
        )
        if request.path.startswith("/flaky") and request.path not in self._failed:
            self._failed.add(request.path)
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"ok": True, "seen": body})
