"""What every fake shares: a base class and running it on a free loopback port."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.processes import free_port


class FakeServer(abc.ABC):
    """A fake third-party server; ``url`` is its origin once ``serve`` runs it."""

    def __init__(self) -> None:
        self.url = ""

    @abc.abstractmethod
    def routes(self, router: web.UrlDispatcher) -> None:
        """Add the fake's routes."""


FakeT = TypeVar("FakeT", bound=FakeServer)


class StartFake(Protocol):
    """The ``start_fake`` fixture: starts a fake for the rest of the test and returns it."""

    def __call__(self, fake: FakeT, /) -> Awaitable[FakeT]: ...


@contextlib.asynccontextmanager
async def serve(fake: FakeT) -> AsyncIterator[FakeT]:
    """Run ``fake`` on 127.0.0.1 (a free port) until the block ends."""
    app = web.Application()
    fake.routes(app.router)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await server.close()
