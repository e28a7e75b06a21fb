"""The gateway application: ``create_app(settings=None)``, as tests and ``linkport serve`` use it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from services.gateway.appkeys import RESOURCES, SETTINGS
from services.gateway.cors import cors
from services.gateway.metrics import instrument
from services.gateway.middlewares import (
    GUARD,
    PROBE_TIMEOUT,
    Guard,
    gateway_middleware,
    install_json_parser_errors,
    log,
    quiet_pool_reconnect_warnings,
)
from services.gateway.routes import setup_routes
from shared import caches as invalidation
from shared.config import Settings
from shared.infra.ratelimit import ApiLimits, AuthFailures, TokenBuckets
from shared.resources import Resources, open_resources


def _guard_resources(guard: Guard, resources: Resources) -> None:
    """Probes for the outage log and ``/readyz``, and the rate limits, once Redis is open."""
    settings = guard.settings
    outages = guard.outages
    outages.watch("postgres", lambda: resources.pool.fetchval("SELECT 1", timeout=PROBE_TIMEOUT))
    outages.watch("redis", resources.redis.ping)

    def redis_failed(exc: BaseException) -> None:
        outages.failed("redis", exc)

    buckets = TokenBuckets(
        resources.redis, max_entries=settings.cache_max_entries, on_error=redis_failed
    )
    guard.limits = ApiLimits(buckets, settings)
    guard.auth_failures = AuthFailures(
        resources.redis,
        limit=settings.auth_failure_limit,
        window=settings.auth_failure_window,
        block=settings.auth_failure_block,
        on_error=redis_failed,
    )


async def resources_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the pool, Redis and caches on start; close them on stop."""
    resources = await open_resources(app[SETTINGS])
    app[RESOURCES] = resources
    _guard_resources(app[GUARD], resources)
    subscribed = asyncio.Event()
    listener = asyncio.create_task(
        invalidation.listen(resources.redis, resources.caches, ready=subscribed)
    )
    # Serve only once evictions from other replicas can reach this one.
    await asyncio.wait_for(subscribed.wait(), timeout=10)
    yield
    # Runs after in-flight requests have finished (or the shutdown timeout has passed).
    await app[GUARD].outages.close()
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    await resources.close()


def create_app(settings: Settings | None = None) -> web.Application:
    """The gateway, configured by ``settings`` or, when None, by ``LINKPORT_*`` variables."""
    settings = settings or Settings()
    install_json_parser_errors()
    quiet_pool_reconnect_warnings()
    guard = Guard(settings)
    app = web.Application(
        middlewares=[gateway_middleware(guard)],
        client_max_size=settings.max_body_bytes,
    )
    app.middlewares.insert(0, cors)  # outermost: error answers get CORS headers too
    app[SETTINGS] = settings
    app[GUARD] = guard
    app.cleanup_ctx.append(resources_ctx)
    setup_routes(app)
    instrument(app, settings)  # /metrics, request metrics and spans
    return app


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    reuse_port: bool = False,
    shutdown_timeout: float = 30.0,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then stop gracefully: stop accepting
    connections, let every request in flight finish (for up to ``shutdown_timeout`` seconds),
    uploads still arriving included, and only then close idle connections and the pools.

    (aiohttp's own shutdown stops reading from connections at once, so a body still
    arriving never completes and its request is cancelled after the timeout.)
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        on_listening()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        guard = app[GUARD]
        log.info("gateway_stopping", in_flight=guard.in_flight)
        await site.stop()  # no new connections
        if not await guard.drain(shutdown_timeout):
            log.warning("gateway_stop_timeout", in_flight=guard.in_flight)
    finally:
        await runner.cleanup()  # idle connections closed, then the pools (cleanup_ctx)
