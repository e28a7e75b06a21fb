"""Static things browsers load: the JS SDK, app logos, and a demo page using the SDK."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from services.gateway.templating import render
from shared.connectors.catalog import logo_svg

routes = web.RouteTableDef()
_SDK = (resources.files("services.gateway") / "static" / "link.js").read_bytes()


@routes.get("/sdk/link.js")
@routes.get("/init.js")  # where the EMR seed's pages load it from (the host changes)
async def sdk(_: web.Request) -> web.Response:
    """The dependency-free JS SDK: ``LinkportLink.init({token, onSuccess, onExit, onEvent})``,
    and ``CobaltLink.init({token, onSuccess})`` (opens at once)."""
    return web.Response(
        body=_SDK,
        content_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@routes.get("/static/logos/{slug}.svg")
async def logo(request: web.Request) -> web.Response:
    """An app's logo, served locally."""
    svg = logo_svg(request.match_info["slug"])
    if svg is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=svg, content_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


@routes.get("/demo")
async def demo(request: web.Request) -> web.Response:
    """A page that opens Link with the JS SDK: ``/demo?token=lt_…``."""
    return render("demo.html", token=request.query.get("token", ""), color=None)
