"""A connection's credentials stay with the origin they are meant for, and out of history:
redirects to another origin drop them, and step records are scrubbed before they are stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.infra.outbound import OutboundClient, parse_networks
from tests.helpers import Api
from tests.processes import free_port
from tests.workflow_fixtures import (
    CREATE_CONTACT_WORKFLOW,
    arranged,
    event_executions,
    run_queued,
    send,
    worker_settings,
)


@pytest.fixture
async def two_origins() -> AsyncIterator[dict[str, Any]]:
    """Two loopback servers on different ports (so different origins): the first redirects
    to itself or to the second; both record the Authorization header they were sent."""
    seen: dict[str, Any] = {"a": [], "b": []}
    ports = {"a": free_port(), "b": free_port()}

    def app(name: str) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            seen[name].append(request.headers.get("Authorization"))
            return web.json_response({"echo": dict(request.headers)})

        async def elsewhere(_: web.Request) -> web.Response:
            raise web.HTTPFound(f"http://localhost:{ports['b']}/landing")

        async def same_origin(_: web.Request) -> web.Response:
            raise web.HTTPFound("/landing")

        application = web.Application()
        application.router.add_get("/landing", record)
        application.router.add_get("/to-other-origin", elsewhere)
        application.router.add_get("/to-same-origin", same_origin)
        return application

    servers = {n: TestServer(app(n), host="127.0.0.1", port=p) for n, p in ports.items()}
    for server in servers.values():
        await server.start_server()
    seen["a_url"] = f"http://127.0.0.1:{ports['a']}"
    yield seen
    for server in servers.values():
        await server.close()


async def test_credentials_are_not_sent_across_origins_on_a_redirect(
    two_origins: dict[str, Any],
) -> None:
    client = OutboundClient(allowed=parse_networks("127.0.0.0/8"), timeout=2.0, max_bytes=100_000)
    headers = {"Authorization": "Bearer sbx_at_secret", "X-Trace": "kept"}
    try:
        reply = await client.request(
            "GET", two_origins["a_url"] + "/to-other-origin", headers=headers, follow_redirects=True
        )
        assert reply.status == 200
        assert two_origins["b"] == [None]  # the other origin never saw the token
        await client.request(
            "GET", two_origins["a_url"] + "/to-same-origin", headers=headers, follow_redirects=True
        )
        assert two_origins["a"] == ["Bearer sbx_at_secret"]  # the same origin still does
    finally:
        await client.close()


async def test_redirects_are_not_followed_unless_asked(two_origins: dict[str, Any]) -> None:
    client = OutboundClient(allowed=parse_networks("127.0.0.0/8"), timeout=2.0, max_bytes=100_000)
    try:
        reply = await client.request("GET", two_origins["a_url"] + "/to-other-origin")
    finally:
        await client.close()
    assert reply.status == 302
    assert two_origins["b"] == []


async def test_a_workflow_step_never_stores_a_token_a_provider_echoes(
    acme: Api, two_origins: dict[str, Any], pool: asyncpg.Pool
) -> None:
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "echo",
                "action": "http.request",
                "input": {"method": "GET", "url": two_origins["a_url"] + "/landing"},
            }
        ],
    }
    await arranged(acme, workflow)
    event_id = await send(acme)
    await run_queued(worker_settings(acme, outbound_allowed_networks="127.0.0.0/8"))
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    (sent,) = two_origins["a"]
    assert sent is not None
    assert sent.startswith("Bearer ")  # the provider did get the token
    token = sent.removeprefix("Bearer ")
    stored = await pool.fetch("SELECT input::text, output::text FROM step_runs")
    assert stored  # the step was recorded...
    assert all(token not in (row["input"] + row["output"]) for row in stored)  # ...without it
