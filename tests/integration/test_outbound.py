"""Outbound safety against a real server: names resolving to loopback, redirects to the
metadata IP, bounded size and time, and a workflow step without the allow-list. (The
address rules themselves: tests/unit/test_outbound_rules.py.) Blocked requests are refused
before any connection is made, so these tests send nothing beyond loopback."""

from __future__ import annotations

import pytest

from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge
from tests.fakes import StartFake
from tests.fakes.hostile_app import HostileApp
from tests.helpers import Api
from tests.workflow_fixtures import (
    CREATE_CONTACT_WORKFLOW,
    arranged,
    event_executions,
    run_queued,
    send,
    worker_settings,
)


@pytest.fixture
async def local_server(start_fake: StartFake) -> str:
    """A loopback server: /ok, a redirect to the metadata IP, a big body, a slow answer."""
    return (await start_fake(HostileApp())).url


async def test_a_name_resolving_to_loopback_is_refused(
    guarded: OutboundClient, local_server: str
) -> None:
    port = local_server.rsplit(":", 1)[1]
    with pytest.raises(BlockedDestination):
        await guarded.request("GET", f"http://localhost:{port}/ok")


async def test_a_redirect_to_the_metadata_ip_is_refused(
    loopback_allowed: OutboundClient, local_server: str
) -> None:
    with pytest.raises(BlockedDestination):
        await loopback_allowed.request("GET", local_server + "/to-metadata", follow_redirects=True)
    followed = await loopback_allowed.request("GET", local_server + "/to-ok", follow_redirects=True)
    assert followed.status == 200


async def test_the_allow_list_opens_only_its_networks(
    loopback_allowed: OutboundClient, local_server: str
) -> None:
    assert (await loopback_allowed.request("GET", local_server + "/ok")).status == 200
    with pytest.raises(BlockedDestination):
        await loopback_allowed.request("GET", "http://10.0.0.1/")


async def test_response_size_and_time_are_bounded(
    loopback_allowed: OutboundClient, local_server: str
) -> None:
    with pytest.raises(ResponseTooLarge):
        await loopback_allowed.request("GET", local_server + "/big")
    with pytest.raises(TimeoutError):
        await loopback_allowed.request("GET", local_server + "/slow")


async def test_a_workflow_cannot_call_loopback_without_the_allow_list(
    acme: Api, local_server: str
) -> None:
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "peek",
                "action": "http.request",
                "input": {"method": "GET", "url": local_server + "/ok"},
            }
        ],
    }
    await arranged(acme, workflow)
    event_id = await send(acme)
    assert await run_queued(worker_settings(acme, outbound_allowed_networks="")) == (1, 0, 0)
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "failed"
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert "not allowed" in detail.body["error"]["message"]
    assert detail.body["attempts"] == 1  # not retried: it can never succeed
