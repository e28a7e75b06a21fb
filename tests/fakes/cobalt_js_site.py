"""A product's page, on another origin than Linkport, using gocobalt's frontend SDK
(``@cobaltio/cobalt-js`` from npm, installed in tests/e2e/js by ``make test-deps``).

The package ships only a CommonJS ``cobalt.js``: in a plain ``<script>`` it needs
``var exports = {};`` first (gocobalt's own recipe), then ``Cobalt`` is a global binding.
``GET /?token=st_…&base=<Linkport URL>`` makes ``window.cobalt``, and a ``#connect``
button runs ``cobalt.connect(slug)`` (``?slug=``) from a click, as a real page would (the
SDK opens its popup from it).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.fakes.server import FakeServer

COBALT_JS = (
    Path(__file__).parents[1]
    / "e2e"
    / "js"
    / "node_modules"
    / "@cobaltio"
    / "cobalt-js"
    / "cobalt.js"
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme integrations</title></head>
<body>
<button id="connect">Connect</button>
<pre id="result">waiting</pre>
<script>var exports = {};</script>
<script src="/cobalt.js"></script>
<script>
  var query = new URLSearchParams(location.search);
  window.cobalt = new Cobalt({ token: query.get("token"), baseUrl: query.get("base") });
  document.getElementById("connect").addEventListener("click", function () {
    cobalt.connect(query.get("slug") || "sandbox").then(
      function (connected) { document.getElementById("result").textContent = "connected " + connected; },
      function (error) { document.getElementById("result").textContent = "error " + error; }
    );
  });
</script>
</body></html>
"""


class CobaltJsSite(FakeServer):
    """``GET /`` (the page above) and ``GET /cobalt.js`` (the npm package's file)."""

    def routes(self, router: web.UrlDispatcher) -> None:
        """``GET /``, ``GET /cobalt.js``."""
        router.add_get("/", self._page)
        router.add_get("/cobalt.js", self._sdk)

    async def _page(self, _: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def _sdk(self, _: web.Request) -> web.Response:
        return web.Response(body=COBALT_JS.read_bytes(), content_type="application/javascript")
