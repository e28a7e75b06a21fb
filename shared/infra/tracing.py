"""Optional OpenTelemetry traces: one trace from the ingest request, through the fan-out, to
each execution and every outbound call it makes.

Off unless ``LINKPORT_TRACING=otlp`` (which needs the ``[tracing]`` extra); then spans are
exported over OTLP/HTTP, configured by the standard ``OTEL_*`` variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``…).
While off, every function here is a constant-time no-op and OpenTelemetry is not imported.

The context crosses processes in the durable rows, not only in memory: an event's row keeps
the W3C ``traceparent`` of the request that ingested it, each execution's row that of the
fan-out span that created it, so a retry an hour later, on another worker, after a Redis
flush, still joins the same trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

_tracer: Tracer | None = None
_provider: TracerProvider | None = None  # the one ``configure`` made (and so shuts down)


class TracingUnavailable(Exception):
    """``LINKPORT_TRACING=otlp`` without the OpenTelemetry packages installed."""


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _tracer is not None


def configure(mode: str, *, service_name: str, component: str) -> None:
    """Start exporting spans when ``mode`` is ``otlp`` (``component``: gateway, worker)."""
    if mode != "otlp":
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            "LINKPORT_TRACING=otlp needs OpenTelemetry: pip install 'linkport[tracing]'"
        ) from exc
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": service_name,
                "service.namespace": "linkport",
                "linkport.component": component,
            }
        )
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    global _provider
    _provider = provider
    use(provider)


def use(provider: TracerProvider | None) -> None:
    """Record spans with ``provider`` (tests give one with an in-memory exporter), or stop
    (None). Shutting a provider down (flushing its spans) is its owner's business."""
    global _tracer
    _tracer = provider.get_tracer("linkport") if provider is not None else None


def shutdown() -> None:
    """Flush and stop the exporter at the end of a process (no-op while off)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        with contextlib.suppress(Exception):  # an unreachable collector must not fail a stop
            provider.shutdown()


def _context_from(traceparent: str | None) -> Any:
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span in progress, to be stored with a row (None while
    tracing is off or no span is recording)."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def inject(headers: dict[str, str]) -> None:
    """Add the current ``traceparent`` (and ``tracestate``) to outgoing request headers."""
    if _tracer is None:
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    TraceContextTextMapPropagator().inject(headers)


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: str = "internal",
    parent: str | None = None,
    headers: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span | None]:
    """A span around the block, the current one inside it; None while tracing is off.

    Its parent: the ``traceparent`` given (from a row), else the one in ``headers`` (an
    incoming request), else the span in progress. ``kind``: internal, server, client."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    context = _context_from(parent)
    if context is None and headers is not None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        context = TraceContextTextMapPropagator().extract(headers)
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=SpanKind[kind.upper()],
        attributes=dict(attributes or {}),
    ) as current:
        yield current


@contextlib.contextmanager
def spans(
    name: str, *, parents: list[str | None], attributes: list[dict[str, Any]]
) -> Iterator[list[str | None]]:
    """One span per parent ``traceparent`` (each with its attributes) around the block,
    without making any of them current; yields their traceparents, for rows written inside
    the block (all None while tracing is off)."""
    if _tracer is None:
        yield [None] * len(parents)
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    started = [
        _tracer.start_span(name, context=_context_from(parent), attributes=attrs)
        for parent, attrs in zip(parents, attributes, strict=True)
    ]
    propagator = TraceContextTextMapPropagator()
    contexts: list[str | None] = []
    for one in started:
        carrier: dict[str, str] = {}
        propagator.inject(carrier, context=trace.set_span_in_context(one))
        contexts.append(carrier.get("traceparent"))
    try:
        yield contexts
    finally:
        for one in started:
            one.end()
