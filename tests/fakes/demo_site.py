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


class DemoSite(FakeServer):
    """``GET /`` is the page above, loading the SDK from ``linkport_url``; the link token is
    given in the page's query (``/?token=lt_...``)."""

    def __init__(self, linkport_url: str) -> None:
        super().__init__()
        self.linkport_url = linkport_url.rstrip("/")

    def routes(self, router: web.UrlDispatcher) -> None:
        """``GET /``."""
        router.add_get("/", self._page)

    async def _page(self, _: web.Request) -> web.Response:
        return web.Response(
            text=DEMO_PAGE.format(linkport=self.linkport_url), content_type="text/html"
        )
