"""A product's own web page, on another origin than Linkport, that opens Link with the JS SDK."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.server import FakeServer

DEMO_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme app</title>
<script src="{linkport}/sdk/link.js"></script></head>
<body>
<button id="connect">Connect your CRM</button>
<pre id="result">waiting</pre>
<script>
  document.getElementById("connect").addEventListener("click", function () {{
    var link = LinkportLink.init({{
      token: new URLSearchParams(location.search).get("token"),
      onSuccess: function (publicToken, metadata) {{
        document.getElementById("result").textContent = "success " + publicToken + " " + metadata.app;
      }},
      onExit: function (error) {{
        document.getElementById("result").textContent = "exit " + JSON.stringify(error);
      }}
    }});
    link.open();
  }});
</script>
</body></html>
"""


# The EMR seed's page: the snippet before </body>, a button whose onclick calls
# launch_cobalt(), which calls CobaltLink.init({token, onSuccess}) (no .open()).
EMR_SEED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme clinic</title></head>
<body>
<button id="launch" onclick="launch_cobalt()">Connect your EMR</button>
<pre id="result">waiting</pre>
<script src="{linkport}/init.js"></script>
<script>
  function launch_cobalt() {{
    window.CobaltLink.init({{
      token: new URLSearchParams(location.search).get("token"),
      onSuccess: function (public_token) {{
        document.getElementById("result").textContent = "success " + public_token;
      }}
    }});
  }}
</script>
</body></html>
"""


class DemoSite(FakeServer):
    """``GET /`` is the page above, loading the SDK from ``linkport_url``; the link token is
    given in the page's query (``/?token=lt_...``). ``GET /emr`` is the EMR seed's page."""

    def __init__(self, linkport_url: str) -> None:
        super().__init__()
        self.linkport_url = linkport_url.rstrip("/")

    def routes(self, router: web.UrlDispatcher) -> None:
        """``GET /``, ``GET /emr``."""
        router.add_get("/", self._page)
        router.add_get("/emr", self._emr_page)

    async def _page(self, _: web.Request) -> web.Response:
        return web.Response(
            text=DEMO_PAGE.format(linkport=self.linkport_url), content_type="text/html"
        )

    async def _emr_page(self, _: web.Request) -> web.Response:
        return web.Response(
            text=EMR_SEED_PAGE.format(linkport=self.linkport_url), content_type="text/html"
        )
