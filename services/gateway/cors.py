"""CORS: a product's own frontend calls the session-token routes from its browser origin.

A preflight carries no credentials, so it cannot name a tenant: for a route that accepts a
session token (``Access.SERVER_OR_SESSION``, the native frontend routes and the faces'
session routes) it is answered permissively. The actual request decides: its response
carries ``Access-Control-Allow-Origin`` only when it was authenticated with a session token
and its ``Origin`` is one of that tenant's ``allowed_origins`` (by default the origins of its
callback and redirect URLs). A request made with a secret key (API key, client secret) never
gets the header, so a browser never reads what a secret key can see; a route that takes only
secret keys answers no preflight at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache

from aiohttp import web

from services.gateway.appkeys import PRINCIPAL, RESOURCES
from services.gateway.endpoints import Access
from services.gateway.routes import all_endpoints
from shared.clients import service as client_settings
from shared.tenancy import SessionPrincipal

# What frontends send: the session token, JSON bodies, and the headers the faces' clients add
# (cobalt-js 9.x: slug, sync_execution; gocobalt: linked_account_id, config_id, instance_tag).
ALLOW_HEADERS = (
    "authorization, content-type, slug, sync_execution, linked_account_id, config_id, "
    "instance_tag, idempotency-key, x-request-id"
)
EXPOSE_HEADERS = "X-Request-ID, Retry-After"
PREFLIGHT_MAX_AGE = "600"

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]


@cache
def _session_capable() -> frozenset[tuple[str, str]]:
    """(method, path template) of every route that accepts a session token."""
    return frozenset(
        (endpoint.method, path)
        for endpoint in all_endpoints()
        if endpoint.access is Access.SERVER_OR_SESSION
        for path in (endpoint.path, *endpoint.aliases)
    )


async def _preflight(request: web.Request, origin: str) -> web.Response | None:
    """The answer to a preflight for a session-capable route, or None (not one of ours)."""
    method = request.headers["Access-Control-Request-Method"].upper()
    match = await request.app.router.resolve(request.clone(method=method))
    if match.http_exception is not None:
        return None
    resource = match.route.resource
    if resource is None or (method, resource.canonical) not in _session_capable():
        return None
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": method,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        },
    )


@web.middleware
async def cors(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Answer preflights of session routes; allow a session's own origins on the response."""
    origin = request.headers.get("Origin")
    if origin is None:  # not a cross-origin browser request: nothing to do
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        answer = await _preflight(request, origin)
        if answer is not None:
            return answer
        return await handler(request)
    response = await handler(request)
    principal = request.get(PRINCIPAL)
    if isinstance(principal, SessionPrincipal) and not response.prepared:
        res = request.app[RESOURCES]
        response.headers.add("Vary", "Origin")
        try:  # cached; when Postgres cannot say, the browser is not let in
            settings = await client_settings.get_settings(
                pool=res.pool, caches=res.caches, tenant=principal.tenant
            )
        except Exception:
            return response
        if origin.lower() in settings.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response
