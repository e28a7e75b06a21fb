"""The gateway application: ``create_app(settings=None)``, as tests and ``linkport serve`` use it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway.appkeys import RESOURCES, SETTINGS
from services.gateway.cors import cors
from services.gateway.metrics import instrument
from services.gateway.middlewares import request_context
from services.gateway.routes import setup_routes
from shared import caches as invalidation
from shared.config import Settings
from shared.resources import open_resources


async def resources_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the pool, Redis and caches on start; close them on stop."""
    resources = await open_resources(app[SETTINGS])
    app[RESOURCES] = resources
    subscribed = asyncio.Event()
    listener = asyncio.create_task(
        invalidation.listen(resources.redis, resources.caches, ready=subscribed)
    )
    # Serve only once evictions from other replicas can reach this one.
    await asyncio.wait_for(subscribed.wait(), timeout=10)
    yield
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    await resources.close()


def create_app(settings: Settings | None = None) -> web.Application:
    """The gateway, configured by ``settings`` or, when None, by ``LINKPORT_*`` variables."""
    settings = settings or Settings()
    app = web.Application(
        middlewares=[request_context],
        client_max_size=settings.max_body_bytes,
    )
    app.middlewares.insert(0, cors)  # outermost: error answers get CORS headers too
    app[SETTINGS] = settings
    app.cleanup_ctx.append(resources_ctx)
    setup_routes(app)
    instrument(app, settings)  # /metrics, request metrics and spans
    return app
