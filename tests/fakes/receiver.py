"""A client's webhook receiver, faked: an HTTP server on loopback that records every request and
answers each path as a test scripts it (status, delay, headers), one answer per request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.processes import free_port


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


class FakeReceiver:
    """Records requests per path; answers with the path's script, then its default (200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._scripts: dict[str, list[Answer]] = defaultdict(list)
        self._defaults: dict[str, Answer] = {}
        self._in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self._server: TestServer | None = None
        self.port = free_port()

    def url(self, path: str) -> str:
        """The URL of one of the receiver's paths."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, *answers: Answer, then: Answer | None = None) -> None:
        """Answer the next requests to ``path`` with ``answers`` in turn, then with ``then``."""
        self._scripts[path].extend(answers)
        if then is not None:
            self._defaults[path] = then

    def received(self, path: str) -> list[Received]:
        """The requests ``path`` received, in arrival order."""
        return [r for r in self.requests if r.path == path]

    async def count(self, path: str) -> int:
        """How many requests ``path`` received (a probe for ``eventually``)."""
        return len(self.received(path))

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        self.requests.append(
            Received(
                path, {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic()
            )
        )
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

    async def start(self) -> None:
        """Listen on loopback."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1", port=self.port)
        await self._server.start_server()

    async def close(self) -> None:
        """Stop listening (requests still being answered are cut)."""
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.close()


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[FakeReceiver]:
    """A started receiver, closed at the end."""
    receiver = FakeReceiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.close()
