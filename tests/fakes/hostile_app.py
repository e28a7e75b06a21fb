"""A third-party server trying what the outbound guard must stop."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.server import FakeServer


class HostileApp(FakeServer):
    """``GET`` only: ``/to-metadata`` redirects to the cloud metadata address, ``/big`` answers
    200 kB, ``/slow`` answers after 2 s; ``/ok`` and ``/to-ok`` (a redirect to ``/ok``) are
    what the guard lets through."""

    def routes(self, router: web.UrlDispatcher) -> None:
        """The five paths."""
        router.add_get("/ok", self._ok)
        router.add_get("/to-metadata", self._to_metadata)
        router.add_get("/to-ok", self._to_ok)
        router.add_get("/big", self._big)
        router.add_get("/slow", self._slow)

    async def _ok(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _to_metadata(self, _: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def _to_ok(self, _: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def _big(self, _: web.Request) -> web.Response:
        return web.Response(body=b"x" * 200_000)

    async def _slow(self, _: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})
