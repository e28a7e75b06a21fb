"""A server of JSON Schemas, for a ``$ref`` that points outside the schema."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.server import FakeServer


class SchemaHost(FakeServer):
    """``GET /{name}`` answers ``{"type": "string"}``; records each path requested."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def routes(self, router: web.UrlDispatcher) -> None:
        """``GET /{name}``."""
        router.add_get("/{name}", self._schema)

    async def _schema(self, request: web.Request) -> web.Response:
        self.requested.append(request.path)
        return web.json_response({"type": "string"})
