"""A public token survives what does not exchange it: an outage during the exchange, or another
tenant presenting it. It is used up only when the access token is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from shared.caches import Caches
from shared.config import Settings
from shared.infra import db
from shared.infra.outages import POSTGRES_OUTAGE_ERRORS
from shared.link.exchange import exchange_public_token
from tests.fakes.faults import TcpProxy
from tests.helpers import Api
from tests.link_browser import Browser, link_token, run_flow, shown_public_token


@pytest.fixture
async def public_token(acme: Api) -> AsyncIterator[str]:
    """A public token from a finished Link flow (sandbox app)."""
    browser = Browser(str(acme.http.make_url("/")))
    try:
        yield shown_public_token(await run_flow(browser, await link_token(acme)))
    finally:
        await browser.close()


@pytest.fixture
async def cut_pool(database_url: str) -> AsyncIterator[db.Pool]:
    """A pool to this run's database through a proxy that has been cut: Postgres is 'down'."""
    proxy = TcpProxy.to_url(database_url)
    await proxy.start()
    pool = await db.create_pool(
        Settings(database_url=proxy.url(database_url), db_pool_min=1, db_pool_max=1)
    )
    await proxy.cut()
    yield pool
    pool.terminate()


async def test_an_exchange_during_an_outage_leaves_the_token_usable(
    acme: Api, public_token: str, cut_pool: db.Pool, redis: Redis
) -> None:
    caches = Caches.create(ttl=0, max_entries=10)
    with pytest.raises(POSTGRES_OUTAGE_ERRORS):
        await exchange_public_token(
            pool=cut_pool, redis=redis, caches=caches, tenant=acme.tenant, public_token=public_token
        )
    exchanged = await acme.call(
        "POST", "/link/token/exchange", {"public_token": public_token}, auth="secret"
    )
    assert exchanged.status == 200
    assert exchanged.body["access_token"].startswith("at_")
    again = await acme.call(
        "POST", "/link/token/exchange", {"public_token": public_token}, auth="secret"
    )
    assert again.status == 400  # used up once, by the exchange that committed
    assert again.body["error"]["code"] == "invalid_public_token"


async def test_another_tenant_presenting_a_token_does_not_use_it_up(
    acme: Api, globex: Api, public_token: str
) -> None:
    stolen = await globex.call(
        "POST", "/link/token/exchange", {"public_token": public_token}, auth="secret"
    )
    assert stolen.status == 400
    assert stolen.body["error"]["code"] == "invalid_public_token"
    own = await acme.call(
        "POST", "/link/token/exchange", {"public_token": public_token}, auth="secret"
    )
    assert own.status == 200


async def test_concurrent_exchanges_of_one_token_succeed_once(acme: Api, public_token: str) -> None:
    replies = await asyncio.gather(
        *(
            acme.call("POST", "/link/token/exchange", {"public_token": public_token}, auth="secret")
            for _ in range(20)
        )
    )
    assert sorted(r.status for r in replies) == [200] + [400] * 19
