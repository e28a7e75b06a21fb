"""Outbound safety: URLs a client gives never reach loopback, private, link-local or metadata
addresses, checked on resolved IPs and on every redirect hop. Blocked requests are refused
before any connection is made, so these tests send nothing beyond loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.infra.outbound import (
    BlockedDestination,
    OutboundClient,
    ResponseTooLarge,
    is_forbidden,
    parse_networks,
)
from tests.helpers import Api
from tests.processes import free_port
from tests.workflow_fixtures import (
    CREATE_CONTACT_WORKFLOW,
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
    finished_executions,
    running_worker,
    send,
    worker_settings,
)


@pytest.fixture
async def local_server() -> AsyncIterator[str]:
    """A loopback server: /ok, a redirect to the metadata IP, a big body, a slow answer."""

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def to_metadata(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_ok(_: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 200_000)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    for path, handler in (
        ("/ok", ok),
        ("/to-metadata", to_metadata),
        ("/to-ok", to_ok),
        ("/big", big),
        ("/slow", slow),
    ):
        app.router.add_get(path, handler)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    yield f"http://127.0.0.1:{port}"
    await server.close()


@pytest.fixture
async def guarded() -> AsyncIterator[OutboundClient]:
    """A client with no allow-list, as for any client-given URL in production."""
    client = OutboundClient(allowed=(), timeout=1.0, max_bytes=100_000)
    yield client
    await client.close()


@pytest.fixture
async def loopback_allowed() -> AsyncIterator[OutboundClient]:
    """A client whose operator allow-listed loopback (as tests do for local fakes)."""
    client = OutboundClient(allowed=parse_networks("127.0.0.0/8"), timeout=1.0, max_bytes=100_000)
    yield client
    await client.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "ftp://example.com/",
    ],
)
async def test_forbidden_addresses_are_refused(guarded: OutboundClient, url: str) -> None:
    with pytest.raises(BlockedDestination):
        await guarded.request("GET", url)


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


def test_the_address_rules() -> None:
    import ipaddress

    assert is_forbidden(ipaddress.ip_address("169.254.169.254"))
    assert is_forbidden(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert not is_forbidden(ipaddress.ip_address("93.184.216.34"))


async def test_a_workflow_cannot_call_loopback_without_the_allow_list(
    acme: Api, local_server: str
) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
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
    await enable(acme, "user_12345", await create_workflow(acme, workflow))
    async with running_worker(worker_settings(acme, outbound_allowed_networks="")):
        (execution,) = await finished_executions(acme, await send(acme))
    assert execution["status"] == "failed"
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert "not allowed" in detail.body["error"]["message"]
    assert detail.body["attempts"] == 1  # not retried: it can never succeed
