"""What the gateway observes of every request: Prometheus metrics by route template and
status, served at ``/metrics``, and, with tracing on, a server span per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter, Histogram

from services.gateway.appkeys import RESOURCES
from shared.config import Settings
from shared.infra import metrics, tracing

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS_PATH = "/metrics"

# (method, route, status) -> the labelled counter and histogram (labels() costs a lock and
# a tuple each time; a few hundred combinations exist at most).
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def _route(request: web.Request) -> str:
    """The route template that matched (never the path itself: it carries ids), or
    ``unmatched`` for a 404 without a route."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _observe(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    pair = _children.get(key)
    if pair is None:
        labels = (metrics.method_label(method), route, str(status))
        pair = _children[key] = (
            metrics.HTTP_REQUESTS.labels(*labels),
            metrics.HTTP_DURATION.labels(*labels),
        )
    pair[0].inc()
    pair[1].observe(seconds)


def observe_requests(*, count: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware that counts and times every request (``count``) and, with tracing on,
    runs it in a server span, joining the caller's trace when it sent a ``traceparent``.
    Outermost, so that it sees the status the client gets."""

    @web.middleware
    async def observe(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        started = time.perf_counter()
        route = _route(request)
        status = 500
        try:
            if tracing.enabled():
                with tracing.span(
                    f"{request.method} {route}",
                    kind="server",
                    headers=request.headers,
                    attributes={"http.request.method": request.method, "http.route": route},
                ) as span:
                    response = await handler(request)
                    if span is not None:
                        span.set_attribute("http.response.status_code", response.status)
            else:
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects are raised
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away first
            raise
        finally:
            if count:
                _observe(request.method, route, status, time.perf_counter() - started)

    return observe


def instrument(app: web.Application, settings: Settings) -> None:
    """Metrics for every request of ``app`` and ``GET /metrics`` (``LINKPORT_METRICS_ENABLED``),
    spans when tracing is on."""
    if settings.metrics_enabled or settings.tracing != "none":
        app.middlewares.insert(0, observe_requests(count=settings.metrics_enabled))
    if settings.metrics_enabled:
        app.router.add_get(
            METRICS_PATH,
            metrics.metrics_handler(
                lambda request: request.app[RESOURCES].redis,
                queue_name=settings.queue_name,
                token=settings.metrics_token,
            ),
        )
