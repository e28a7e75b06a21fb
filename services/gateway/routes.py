"""Every route of the gateway, and ``/openapi.json`` built from the same declarations."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import orjson
from aiohttp import web

from services.gateway.endpoints import (
    Access,
    Call,
    Endpoint,
    HandlerResult,
    aiohttp_handler,
    shaped_error,
)
from services.gateway.faces import cobalt_js, emr, gocobalt, vital
from services.gateway.middlewares import GUARD, Guard
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
    oauth_connect,
    orgs,
    proxy,
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
    oauth_connect.router,
    events.router,
    workflows.router,
    configs.router,
    executions.router,
    client_settings.router,
    api_keys.router,
    webhooks.router,
    emr.router,
    vital.token_router,
    vital.router,
    gocobalt.router,
    cobalt_js.router,
)
PAGES = (link.routes, sandbox.routes, assets.routes, vital.fallback)


def all_endpoints() -> list[Endpoint]:
    """Every declared endpoint, in router order."""
    return [endpoint for router in ROUTERS for endpoint in router.endpoints]


AccountOf = Callable[[Call, dict[str, Any]], str | None]
_ACCOUNT_FIELDS = ("linked_account_id", "user_id")  # user_id: the seeds' name for it


def _account_of(endpoint: Endpoint) -> AccountOf:
    """How to find the linked account a call to ``endpoint`` is about, if any: the session's
    own, the path's ``{linked_account_id}``, or the body's or query's field naming one."""
    in_path = any("{linked_account_id}" in p for p in (endpoint.path, *endpoint.aliases))
    body_field = next(
        (f for f in _ACCOUNT_FIELDS if endpoint.body and f in endpoint.body.model_fields), None
    )
    query_field = next(
        (f for f in _ACCOUNT_FIELDS if endpoint.query and f in endpoint.query.model_fields), None
    )

    def account_of(call: Call, kwargs: dict[str, Any]) -> str | None:
        session = call.session
        if session is not None:
            return session.linked_account_id
        if in_path:
            return call.path("linked_account_id")
        value = None
        if body_field is not None:
            value = getattr(kwargs["body"], body_field, None)
        elif query_field is not None:
            value = getattr(kwargs["query"], query_field, None)
        return value if isinstance(value, str) else None

    return account_of


def _rate_limited(endpoint: Endpoint, guard: Guard) -> Endpoint:
    """``endpoint`` with its client's and linked account's rate limits taken before the view
    runs (after authentication, which names the client, and parsing, which names the account)."""
    if endpoint.access is Access.PUBLIC:
        return endpoint
    view = endpoint.handler
    account_of = _account_of(endpoint)

    @functools.wraps(view)
    async def limited(call: Call, **kwargs: Any) -> HandlerResult:
        limits = guard.limits
        if limits is not None:
            await limits.check(call.tenant, account_of(call, kwargs))
        return await view(call, **kwargs)

    return dataclasses.replace(endpoint, handler=limited)


def setup_routes(app: web.Application) -> None:
    """Register every endpoint (and its aliases) and the OpenAPI document."""
    guard = app[GUARD]
    endpoints = all_endpoints()
    for endpoint in endpoints:
        handler = aiohttp_handler(_rate_limited(endpoint, guard))
        for path in (endpoint.path, *endpoint.aliases):
            app.router.add_route(endpoint.method, path, handler)
        if endpoint.errors is not None:
            guard.error_renderers[handler] = functools.partial(shaped_error, endpoint.errors)
    spec = orjson.dumps(
        build_openapi(
            endpoints,
            title="Linkport API",
            version=version("linkport"),
            extra_paths=proxy.openapi_paths(),
        )
    )

    async def openapi_json(_: web.Request) -> web.Response:
        return web.Response(body=spec, content_type="application/json")

    app.router.add_get("/openapi.json", openapi_json)
    for page_routes in PAGES:
        app.router.add_routes(page_routes)
    # The proxy answers any method and streams: a plain handler, authenticated and limited
    # like the endpoints (views/proxy.py).
    app.router.add_routes(proxy.routes)
    # The hosted Link pages may wait on a provider (OAuth code exchange), and so does the
    # proxy: a longer deadline.
    guard.slow_handlers = frozenset(
        route.handler
        for table in (link.routes, proxy.routes)
        for route in table
        if isinstance(route, web.RouteDef)
    )
