"""Prometheus metrics: the families every process counts into, the queue's state read at
scrape time, and the text a scrape gets.

Labels are bounded and never carry a secret, a tenant, an account or a raw path: routes are
templates (``/v1/events/{event_id}``), statuses are codes, kinds are fixed sets.

Processes: a gateway serves ``/metrics`` on its HTTP port, a worker on
``LINKPORT_WORKER_METRICS_PORT`` (``serve_worker_metrics``). Several processes sharing one
port (``linkport serve --reuse-port``) must share ``PROMETHEUS_MULTIPROC_DIR`` (an empty
folder, emptied whenever the group of processes starts; prometheus-client reads the
variable when it is imported): every process writes its values there and a scrape, whichever
process answers it, adds them up. Counters and histograms only: the queue's gauges are read
from Redis for each scrape, so no per-process gauge needs merging.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from shared.config import Settings

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "linkport_http_requests_total",
    "Requests the gateway answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "linkport_http_request_duration_seconds",
    "Time to answer a request, by method, route template and status",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
TOKENS_ISSUED = Counter(
    "linkport_tokens_issued_total",
    "Tokens issued, by kind (link, session, public, access)",
    ["kind"],
)
EVENTS_ACCEPTED = Counter(
    "linkport_events_accepted_total",
    "App events committed (a repeated Idempotency-Key counts once)",
)
EXECUTIONS = Counter(
    "linkport_executions_total",
    "Execution attempts by outcome: succeeded, failed, needs_reauth (final), "
    "retry (scheduled again), interrupted (handed back: shutdown or outage)",
    ["status"],
)
EXECUTION_DURATION = Histogram(
    "linkport_execution_duration_seconds",
    "Time an execution attempt ran, from its claim to its outcome, by outcome",
    ["status"],
    buckets=_LATENCY_BUCKETS,
)
OUTBOUND_REQUESTS = Histogram(
    "linkport_outbound_request_duration_seconds",
    "Calls to other servers (apps, token endpoints, webhooks), by method and status "
    "(status 'error': no answer: network error, timeout, blocked destination)",
    ["method", "status"],
    buckets=_LATENCY_BUCKETS,
)
REFRESH_FAILURES = Counter(
    "linkport_token_refresh_failures_total",
    "OAuth token refreshes that failed, by reason (reauth: the grant is gone; revoked: "
    "the provider says it was revoked; error: the token endpoint failed or could not be reached)",
    ["reason"],
)
PROXY_REQUESTS = Counter(
    "linkport_proxy_requests_total",
    "Calls forwarded by the proxy (/v1/proxy/…), by app and status class of the app's answer "
    "(2xx, 3xx, 4xx, 5xx; 'error': no answer: unreachable, timeout, refused destination)",
    ["app", "status_class"],
)
REFRESHES = Counter(
    "linkport_token_refreshes_total",
    "OAuth token refreshes that succeeded",
)
REVOCATIONS = Counter(
    "linkport_token_revocations_total",
    "Attempts at revoking a deleted connection's token at its provider, by outcome "
    "(revoked; skipped: nothing to revoke; retry; abandoned: the last attempt failed)",
    ["outcome"],
)
# For the webhooks feature: one per delivery attempt. status: the HTTP status code, or
# "error" when there was no answer; outcome: delivered, retry, failed.
WEBHOOK_ATTEMPTS = Counter(
    "linkport_webhook_attempts_total",
    "Webhook delivery attempts, by HTTP status and outcome",
    ["status", "outcome"],
)

# Children of the labelled families the hot paths use, made once.
_TOKEN_KINDS = {
    kind: TOKENS_ISSUED.labels(kind) for kind in ("link", "session", "public", "access")
}


def token_issued(kind: str) -> None:
    """Count a token issued: ``link``, ``session``, ``public`` or ``access``."""
    _TOKEN_KINDS[kind].inc()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """An HTTP method as a label: one of the usual ones, else ``other`` (bounded)."""
    return method if method in _METHODS else "other"


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when set: the processes of a group add up there."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def _registry() -> CollectorRegistry:
    if multiprocess_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class _QueueState(Collector):
    """The queue's gauges, as read from Redis for this scrape."""

    def __init__(self, depth: float, oldest_age: float, total: float) -> None:
        self._values = (depth, oldest_age, total)

    def collect(self) -> Any:
        depth, oldest_age, total = self._values
        yield GaugeMetricFamily(
            "linkport_queue_depth",
            "Jobs in the queue that are due now (waiting for a worker)",
            depth,
        )
        yield GaugeMetricFamily(
            "linkport_queue_oldest_due_age_seconds",
            "How long the longest-waiting due job has been due (0: none waits)",
            oldest_age,
        )
        yield GaugeMetricFamily(
            "linkport_queue_jobs",
            "Every job in the queue: due, deferred to a later time (retries) and running",
            total,
        )


async def queue_state(redis: Redis, queue_name: str) -> _QueueState:
    """Read the queue (arq's sorted set, scored by due time in ms): one round trip."""
    now_ms = time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(queue_name, "-inf", now_ms)
        pipe.zrangebyscore(queue_name, "-inf", now_ms, start=0, num=1, withscores=True)
        pipe.zcard(queue_name)
        depth, oldest, total = await pipe.execute()
    oldest_age = max(0.0, (now_ms - oldest[0][1]) / 1000) if oldest else 0.0
    return _QueueState(depth, oldest_age, total)


async def exposition(redis: Redis | None, queue_name: str) -> bytes:
    """The text of a scrape: this process's (or, multiprocess, every process's) metrics, and
    the queue's state when Redis is given (left out, with no error, when Redis fails)."""
    text = generate_latest(_registry())
    if redis is not None:
        try:
            state = await queue_state(redis, queue_name)
        except Exception:  # a scrape still shows everything else; the gap says Redis failed
            return text
        queue_registry = CollectorRegistry(auto_describe=False)
        queue_registry.register(state)
        text += generate_latest(queue_registry)
    return text


def authorized(request: web.Request, token: str | None) -> bool:
    """Whether the request may read the metrics: no token set, or ``Bearer <token>``."""
    if not token:
        return True
    offered = request.headers.get("Authorization", "")
    scheme, _, value = offered.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def metrics_handler(
    redis: Callable[[web.Request], Redis | None], *, queue_name: str, token: str | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler serving the exposition (``redis``: the process's client, if any)."""

    async def handle(request: web.Request) -> web.Response:
        if not authorized(request, token):
            return web.Response(
                status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        body = await exposition(redis(request), queue_name)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return handle


async def serve_worker_metrics(settings: Settings, redis: Redis) -> web.AppRunner | None:
    """A worker's ``/metrics`` on ``LINKPORT_WORKER_METRICS_PORT``, served by its own event
    loop beside the jobs (None when the port is 0); stop it with ``cleanup()``."""
    if not settings.metrics_enabled or not settings.worker_metrics_port:
        return None
    app = web.Application()
    handler = metrics_handler(
        lambda _: redis, queue_name=settings.queue_name, token=settings.metrics_token
    )
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(
            runner, settings.worker_metrics_host, settings.worker_metrics_port
        ).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
