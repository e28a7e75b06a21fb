"""A client's webhook receiver: records every request and answers each path as a test scripts
it (status, delay, headers), one scripted answer per request, then the path's default."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.server import FakeServer


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


@dataclass(frozen=True)
class Received:
    """One request as it arrived (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers["webhook-id"]


class WebhookReceiver(FakeServer):
    """Any path: records the request, answers with the path's script, then its default (200)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Received] = []
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self._scripts: dict[str, list[Answer]] = defaultdict(list)
        self._defaults: dict[str, Answer] = {}
        self._in_flight: dict[str, int] = defaultdict(int)

    def endpoint(self, path: str) -> str:
        """The URL of one of the receiver's paths (an endpoint to register)."""
        return f"{self.url}/{path}"

    def answer(self, path: str, *answers: Answer, then: Answer | None = None) -> None:
        """Answer the next requests to ``path`` with ``answers`` in turn, then with ``then``."""
        self._scripts[path].extend(answers)
        if then is not None:
            self._defaults[path] = then

    def received(self, path: str) -> list[Received]:
        """The requests ``path`` received, in arrival order."""
        return [r for r in self.requests if r.path == path]

    async def count(self, path: str | None = None) -> int:
        """How many requests ``path`` (or any path) received: a probe for ``eventually``."""
        return len(self.requests if path is None else self.received(path))

    def routes(self, router: web.UrlDispatcher) -> None:
        """Every path, every method."""
        router.add_route("*", "/{path:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Received(path, headers, body, time.monotonic()))
        script = self._scripts[path]
        answer = script.pop(0) if script else self._defaults.get(path, Answer())
        self._in_flight[path] += 1
        self.most_in_flight[path] = max(self.most_in_flight[path], self._in_flight[path])
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
            return web.Response(status=answer.status, text=answer.body, headers=answer.headers)
        finally:
            self._in_flight[path] -= 1
