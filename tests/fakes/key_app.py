"""A key-based app's API: ``GET /v1/me`` answers 200 for an accepted ``X-Api-Key`` and
401 (``{"error": "invalid_api_key"}``) otherwise, as such APIs answer a wrong key. What
Linkport checks new credentials against before it saves a key-based connection."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.server import FakeServer


class FakeKeyApp(FakeServer):
    """Accepts the keys in ``valid_keys``; ``down`` makes every call a 503."""

    def __init__(self, valid_keys: set[str]) -> None:
        super().__init__()
        self.valid_keys = valid_keys
        self.down = False
        self.keys_seen: list[str] = []

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/api/v1/me", self._me)

    async def _me(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-Api-Key", "")
        self.keys_seen.append(key)
        if self.down:
            return web.json_response({"error": "maintenance"}, status=503)
        if key not in self.valid_keys:
            return web.json_response({"error": "invalid_api_key"}, status=401)
        return web.json_response({"id": "acct-1", "workspace": request.query.get("ws")})
