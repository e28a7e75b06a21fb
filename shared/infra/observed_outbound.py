"""The outbound client, observed: every call to another server (an app's API, a token
endpoint, a webhook) logs one line, is timed in ``linkport_outbound_request_duration_seconds``
and, with tracing on, is a client span whose ``traceparent`` travels in the request.

The line has the method, the host (never the path, the query or credentials), the status
(or the error's type) and the duration; the ids bound around it (a worker's
``execution_id`` and ``event_id``, a gateway's ``request_id``) come with it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import structlog

from shared.infra import metrics, tracing
from shared.infra.outbound import OutboundClient, OutboundResponse, StreamedResponse

log = structlog.get_logger(logger_name="linkport.outbound")


def _host(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    return f"{host}:{port}" if port else host


class ObservedOutboundClient(OutboundClient):
    """``OutboundClient`` with a log line, a metric and a span per call."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        follow_redirects: bool = False,
        from_catalog: bool = False,
    ) -> OutboundResponse:
        """Send the request as ``OutboundClient`` does, observed."""
        host = _host(url)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        with tracing.span(
            f"{method} {host}",
            kind="client",
            attributes={"http.request.method": method, "server.address": host},
        ) as span:
            if span is not None:
                headers = dict(headers or {})
                tracing.inject(headers)
            try:
                reply = await super().request(
                    method,
                    url,
                    headers=headers,
                    json=json,
                    data=data,
                    follow_redirects=follow_redirects,
                    from_catalog=from_catalog,
                )
                status = reply.status
                return reply
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _observed(method, host, status, error, started, span)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        data: bytes | None = None,
        from_catalog: bool = False,
    ) -> AsyncIterator[StreamedResponse]:
        """Stream as ``OutboundClient`` does, observed until the body has been read."""
        host = _host(url)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        with tracing.span(
            f"{method} {host}",
            kind="client",
            attributes={"http.request.method": method, "server.address": host},
        ) as span:
            if span is not None:
                carrier: dict[str, str] = {}
                tracing.inject(carrier)
                headers = [*(headers or []), *carrier.items()]
            try:
                async with super().stream(
                    method, url, headers=headers, data=data, from_catalog=from_catalog
                ) as reply:
                    status = reply.status
                    yield reply
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _observed(method, host, status, error, started, span)


def _observed(
    method: str, host: str, status: int | None, error: str | None, started: float, span: Any
) -> None:
    """One call's metric, span status and log line."""
    seconds = time.perf_counter() - started
    metrics.OUTBOUND_REQUESTS.labels(
        metrics.method_label(method), str(status) if status is not None else "error"
    ).observe(seconds)
    if span is not None and status is not None:
        span.set_attribute("http.response.status_code", status)
    log.info(
        "outbound_call",
        method=method,
        host=host,
        status=status,
        error=error,
        duration_ms=round(seconds * 1000, 2),
    )
