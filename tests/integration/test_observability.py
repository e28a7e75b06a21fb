"""Metrics (``/metrics`` on the gateway, a worker's own port) and traces (one trace from the
ingest request, through the fan-out, to each outbound call, carried by the rows)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from shared.infra import db, tracing
from tests.helpers import Api, AppFactory, eventually
from tests.processes import free_port
from tests.workflow_fixtures import (
    arranged,
    event_executions,
    run_queued,
    running_worker,
    send,
    worker_settings,
)

FAMILIES = {
    "linkport_http_requests",
    "linkport_http_request_duration_seconds",
    "linkport_tokens_issued",
    "linkport_events_accepted",
    "linkport_executions",
    "linkport_execution_duration_seconds",
    "linkport_outbound_request_duration_seconds",
    "linkport_token_refresh_failures",
    "linkport_webhook_attempts",
    "linkport_queue_depth",
    "linkport_queue_oldest_due_age_seconds",
    "linkport_queue_jobs",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """(family names, {(sample name, sorted labels): value})."""
    families = list(text_string_to_metric_families(text))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }
    return {f.name for f in families}, samples


async def scrape(api: Api, **headers: str) -> tuple[set[str], Samples]:
    async with api.http.get("/metrics", headers=headers) as reply:
        assert reply.status == 200, await reply.text()
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await reply.text()
    assert "user_12345" not in text
    assert "sk_test_" not in text
    return parse(text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_are_scraped_and_move_with_the_work(acme: Api, pool: db.Pool) -> None:
    await arranged(acme)
    families, before = await scrape(acme)
    assert families >= FAMILIES

    missing = await acme.call("GET", "/v1/linked-accounts/no-such-account")
    assert missing.status == 404
    token = await acme.call(
        "POST", "/link/token/create", {"user_id": "user_12345", "org_id": "org_67890"}
    )
    assert token.status == 200, token.body
    event_id = await send(acme)
    _, queued = await scrape(acme)
    assert value(queued, "linkport_queue_depth") == 1  # its fan-out job, due, no worker yet
    assert value(queued, "linkport_queue_jobs") == 1
    assert value(queued, "linkport_queue_oldest_due_age_seconds") >= 0

    await run_queued(worker_settings(acme))
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    _, after = await scrape(acme)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/v1/linked-accounts/{linked_account_id}"  # the template, never the id
    assert delta("linkport_http_requests_total", method="GET", route=route, status="404") == 1
    assert (
        delta(
            "linkport_http_request_duration_seconds_count", method="GET", route=route, status="404"
        )
        == 1
    )
    assert (
        delta("linkport_http_requests_total", method="POST", route="/v1/events", status="202") == 1
    )
    assert delta("linkport_tokens_issued_total", kind="link") == 1
    assert delta("linkport_events_accepted_total") == 1
    assert delta("linkport_executions_total", status="succeeded") == 1
    assert delta("linkport_execution_duration_seconds_count", status="succeeded") == 1
    assert (
        delta("linkport_outbound_request_duration_seconds_count", method="POST", status="201") == 1
    )
    assert value(after, "linkport_queue_depth") == 0
    assert value(after, "linkport_queue_oldest_due_age_seconds") == 0


async def test_metrics_behind_a_bearer_token(make_client: AppFactory, pool: db.Pool) -> None:
    http = await make_client(metrics_token="scrape-me")
    async with http.get("/metrics") as reply:
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    async with http.get("/metrics", headers={"Authorization": "Bearer wrong"}) as reply:
        assert reply.status == 401
    async with http.get("/metrics", headers={"Authorization": "Bearer scrape-me"}) as reply:
        assert reply.status == 200
        assert "linkport_queue_depth" in await reply.text()


async def test_metrics_can_be_turned_off(make_client: AppFactory) -> None:
    http = await make_client(metrics_enabled=False)
    async with http.get("/metrics") as reply:
        assert reply.status == 404


async def test_a_worker_serves_its_metrics_on_its_own_port(acme: Api) -> None:
    port = free_port()
    settings = worker_settings(acme, worker_metrics_port=port, worker_metrics_host="127.0.0.1")
    async with running_worker(settings), aiohttp.ClientSession() as session:

        async def scraped() -> str | None:
            try:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as reply:
                    assert reply.status == 200
                    return await reply.text()
            except aiohttp.ClientConnectionError:
                return None  # the worker is still starting

        text = await eventually(scraped, lambda t: t is not None, timeout=10)
        assert text is not None
        families, _ = parse(text)
    assert families >= FAMILIES - {
        "linkport_http_requests",
        "linkport_http_request_duration_seconds",
    }
    async with aiohttp.ClientSession() as session:  # stopped with the worker
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://127.0.0.1:{port}/metrics")


# --- traces ------------------------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_trace_from_the_request_to_each_outbound_call_through_the_rows(
    acme: Api, pool: db.Pool, spans: InMemorySpanExporter
) -> None:
    """The client's traceparent → the ingest request's server span → (the event's row) → a
    fan-out span → (the execution's row) → one execution span per attempt, on a worker that
    learns of the event only through Postgres and a job carrying ids → each outbound call."""
    connection_id, _ = await arranged(acme)
    # The app fails the first call (500): the execution is retried, a second attempt.
    fault = await acme.call(
        "PUT",
        f"/v1/connections/{connection_id}/sandbox/fault",
        {"fault": "server_error", "count": 1},
    )
    assert fault.status == 200, fault.body
    spans.clear()

    trace_id = uuid.uuid4().hex
    client_span = "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{client_span}-01"}
    reply = await acme.call(
        "POST",
        "/v1/events",
        {"event": "contact.created", "linked_account_id": "user_12345",
         "payload": {"email": "t@example.com", "first": "T", "last": "R", "vip": True}},
        headers=headers,
    )  # fmt: skip
    assert reply.status == 202, reply.body
    event_id = reply.body["event_id"]

    # Nothing but rows and a job with ids crosses to the worker; the rows hold the context.
    event_context = await pool.fetchval(
        "SELECT trace_context FROM events WHERE id = $1", uuid.UUID(event_id)
    )
    (server,) = [s for s in spans.get_finished_spans() if s.name == "POST /v1/events"]
    assert event_context == f"00-{trace_id}-{server.context.span_id:016x}-01"
    assert _parent(server) == int(client_span, 16)

    await run_queued(worker_settings(acme))
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"

    ours = [s for s in spans.get_finished_spans() if s.context.trace_id == int(trace_id, 16)]
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in ours:
        by_name.setdefault(span.name.split(" ")[0], []).append(span)
    (fan_out,) = by_name["linkport.fan_out"]
    assert _parent(fan_out) == server.context.span_id
    assert fan_out.attributes is not None
    assert fan_out.attributes["linkport.event_id"] == event_id
    execution_context = await pool.fetchval(
        "SELECT trace_context FROM executions WHERE id = $1", uuid.UUID(execution["id"])
    )
    assert execution_context == f"00-{trace_id}-{fan_out.context.span_id:016x}-01"

    attempts = sorted(by_name["linkport.execution"], key=lambda s: s.start_time or 0)
    assert [_parent(a) for a in attempts] == [fan_out.context.span_id] * 2
    assert [a.attributes["linkport.outcome"] for a in attempts if a.attributes] == [
        "retry",
        "succeeded",
    ]
    # The outbound calls ("POST 127.0.0.1:port"), one per attempt, children of its span.
    calls = [s for s in ours if s.kind.name == "CLIENT"]
    assert sorted(
        (_parent(c), c.attributes["http.response.status_code"]) for c in calls if c.attributes
    ) == sorted([(attempts[0].context.span_id, 500), (attempts[1].context.span_id, 201)])
    # The app saw the trace too: each call carried its span's traceparent (the sandbox app is
    # served by this gateway, whose server span joins the trace below the call).
    app_side = [s for s in ours if s.kind.name == "SERVER" and s is not server]
    assert sorted(_parent(s) or 0 for s in app_side) == sorted(c.context.span_id for c in calls)


async def test_without_tracing_rows_carry_no_context(acme: Api, pool: db.Pool) -> None:
    await arranged(acme)
    event_id = await send(acme)
    await run_queued(worker_settings(acme))
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE id = $1 AND trace_context IS NULL",
            uuid.UUID(event_id),
        )
        == 1
    )
    assert (
        await pool.fetchval("SELECT count(*) FROM executions WHERE trace_context IS NOT NULL") == 0
    )
