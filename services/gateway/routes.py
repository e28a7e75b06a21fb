"""Every route of the gateway, and ``/openapi.json`` built from the same declarations."""

from __future__ import annotations

from importlib.metadata import version

import orjson
from aiohttp import web

from services.gateway.endpoints import Endpoint, aiohttp_handler
from services.gateway.faces import cobalt_js, gocobalt, vital
from services.gateway.openapi import build_openapi
from services.gateway.pages import assets, link, sandbox
from services.gateway.views import (
    api_keys,
    apps,
    client_settings,
    configs,
    connect,
    connections,
    events,
    executions,
    health,
    link_tokens,
    linked_accounts,
    orgs,
    session_tokens,
    webhooks,
    workflows,
)

ROUTERS = (
    health.router,
    link_tokens.router,
    session_tokens.router,
    linked_accounts.router,
    orgs.router,
    connections.router,
    apps.router,
    connect.router,
    events.router,
    workflows.router,
    configs.router,
    executions.router,
    client_settings.router,
    api_keys.router,
    webhooks.router,
    vital.token_router,
    vital.router,
    gocobalt.router,
    cobalt_js.router,
)
PAGES = (link.routes, sandbox.routes, assets.routes, vital.fallback)


def all_endpoints() -> list[Endpoint]:
    """Every declared endpoint, in router order."""
    return [endpoint for router in ROUTERS for endpoint in router.endpoints]


def setup_routes(app: web.Application) -> None:
    """Register every endpoint (and its aliases) and the OpenAPI document."""
    endpoints = all_endpoints()
    for endpoint in endpoints:
        handler = aiohttp_handler(endpoint)
        for path in (endpoint.path, *endpoint.aliases):
            app.router.add_route(endpoint.method, path, handler)
    spec = orjson.dumps(build_openapi(endpoints, title="Linkport API", version=version("linkport")))

    async def openapi_json(_: web.Request) -> web.Response:
        return web.Response(body=spec, content_type="application/json")

    app.router.add_get("/openapi.json", openapi_json)
    for page_routes in PAGES:
        app.router.add_routes(page_routes)
