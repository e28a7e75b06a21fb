"""Arranging app events and workflows for tests: a sandbox connection, an event definition,
a workflow and a config that enables it; and the worker, in burst mode or running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from arq import Worker

from services.gateway.appkeys import RESOURCES
from shared.config import Settings
from tests.helpers import Api, eventually
from tests.link_browser import Browser, link_token, run_flow, shown_public_token

CONTACT_SAMPLE = {"email": "ada@example.com", "first": "Ada", "last": "Lovelace", "vip": False}
CREATE_CONTACT_WORKFLOW: dict[str, Any] = {
    "name": "Create the contact in the CRM",
    "app": "sandbox",
    "trigger": {"event": "contact.created"},
    "fields": [{"key": "source", "label": "Lead source", "type": "text", "default": "app"}],
    "steps": [
        {
            "id": "create",
            "action": "sandbox.create_contact",
            "input": {
                "email": "{{ event.email }}",
                "name": "{{ event.first }} {{ event.last }}",
                "source": "{{ config.source }}",
            },
        }
    ],
}


def worker_settings(api: Api, **overrides: Any) -> Settings:
    """The gateway's settings (same base URL, database, Redis), tuned for quick retries."""
    base = api.http.app[RESOURCES].settings
    fast = {
        "retry_base_delay": 0.05,
        "retry_max_delay": 0.2,
        "execution_lease": 3.0,
        "sweep_grace": 0.2,
        "worker_poll_delay": 0.01,
        "log_level": "WARNING",
    }
    # Validated like any settings (model_copy would skip parsing the overrides).
    return type(base)(**{**base.model_dump(), **fast, **overrides})


JobCounts = tuple[int, int, int]


async def run_queued(settings: Settings, *, timeout: float = 30) -> JobCounts:
    """Run what is queued with an arq worker in burst mode, and what those jobs enqueue
    (retries at their time included), then stop: ``(complete, failed, retried)`` as arq
    counts its jobs.

    The burst has no cron jobs: the sweeper runs every second and enqueues its next run, so
    the queue would never empty. A test about the sweeper uses ``running_worker``.
    """
    from workers.worker import create_worker

    worker = create_worker(settings, burst=True, handle_signals=False, cron_jobs=[])
    try:
        await asyncio.wait_for(worker.main(), timeout=timeout)
    finally:
        await worker.close()
    return worker.jobs_complete, worker.jobs_failed, worker.jobs_retried


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Worker]:
    """An arq worker running in this event loop (cron sweeper included) until the block ends:
    for tests about a live worker; ``run_queued`` is the way to run what a test enqueued."""
    from workers.worker import create_worker

    worker = create_worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # Let the poll loop finish its iteration and return (arq's burst exit) instead of
        # cancelling it mid-enqueue, which would strand a Redis pipeline; it waits for the
        # jobs in flight. Then close() runs shutdown and releases every connection.
        worker.burst = True
        worker.max_burst_jobs = 0
        await asyncio.wait_for(task, timeout=30)
        worker.tasks.clear()
        await worker.close()


async def connect_sandbox(api: Api, user_id: str = "user_12345") -> str:
    """Run the Link flow for ``user_id``; returns the connection id."""
    browser = Browser(str(api.http.make_url("/")))
    try:
        page = await run_flow(
            browser, await link_token(api, {"user_id": user_id, "org_id": "org_67890"})
        )
    finally:
        await browser.close()
    reply = await api.call(
        "POST", "/link/token/exchange", {"public_token": shown_public_token(page)}
    )
    connection_id: str = reply.body["connection_id"]
    return connection_id


async def define_contact_event(api: Api) -> None:
    reply = await api.call(
        "POST", "/v1/event-definitions", {"name": "contact.created", "sample": CONTACT_SAMPLE}
    )
    assert reply.status in (200, 201), reply.body


async def create_workflow(api: Api, definition: dict[str, Any] | None = None) -> str:
    reply = await api.call("POST", "/v1/workflows", definition or CREATE_CONTACT_WORKFLOW)
    assert reply.status == 201, reply.body
    workflow_id: str = reply.body["id"]
    return workflow_id


async def enable(
    api: Api, user_id: str, *workflow_ids: str, fields: dict[str, Any] | None = None
) -> str:
    """Find or create the account's sandbox config and enable the workflows."""
    found = await api.call("POST", "/v1/configs", {"linked_account_id": user_id, "app": "sandbox"})
    body: dict[str, Any] = {"enabled_workflows": list(workflow_ids)}
    if fields is not None:
        body["fields"] = fields
    saved = await api.call("PUT", f"/v1/configs/{found.body['id']}", body)
    assert saved.status == 200, saved.body
    config_id: str = found.body["id"]
    return config_id


async def arranged(api: Api, workflow: dict[str, Any] | None = None) -> tuple[str, str]:
    """A sandbox connection for user_12345 with a workflow (the create-contact one unless
    given) enabled on contact.created: (connection id, workflow id)."""
    connection_id = await connect_sandbox(api)
    await define_contact_event(api)
    workflow_id = await create_workflow(api, workflow)
    await enable(api, "user_12345", workflow_id)
    return connection_id, workflow_id


async def send(api: Api, payload: dict[str, Any] | None = None, key: str | None = None) -> str:
    headers = {"Idempotency-Key": key} if key else None
    reply = await api.call(
        "POST",
        "/v1/events",
        {
            "event": "contact.created",
            "linked_account_id": "user_12345",
            "payload": payload or CONTACT_SAMPLE,
        },
        headers=headers,
    )
    assert reply.status == 202, reply.body
    event_id: str = reply.body["event_id"]
    return event_id


async def event_executions(api: Api, event_id: str) -> list[dict[str, Any]]:
    """The event's executions, as the API shows them."""
    event = await api.call("GET", f"/v1/events/{event_id}")
    found: list[dict[str, Any]] = event.body["executions"]
    return found


async def finished_executions(
    api: Api, event_id: str, count: int = 1, timeout: float = 15
) -> list[dict[str, Any]]:
    """Poll the event until ``count`` executions reached a final state (a running worker's)."""
    return await eventually(
        lambda: event_executions(api, event_id),
        lambda found: (
            len(found) == count
            and all(e["status"] in ("succeeded", "failed", "needs_reauth") for e in found)
        ),
        timeout=timeout,
    )
