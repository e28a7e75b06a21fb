"""A connection's life after Link: its health status as refreshes go (needs_reauth, revoked,
error and back), the workers' refresh ahead of expiry, rotated refresh tokens stored before
use, one refresh across workers, and its token revoked at the provider when it is deleted
(alone or with its linked account) — against a fake provider (tests/fakes/revocable.py)
the operator's catalog override (``LINKPORT_CATALOG_OVERRIDES``) points two apps at."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from services.gateway.appkeys import RESOURCES
from shared.clients import store as clients
from shared.config import Settings
from shared.connections import store as connection_store
from shared.connections.credentials import (
    CredentialSource,
    ReauthorizationNeeded,
    connection_binding,
    current_credentials,
    open_credentials,
    refresh_due,
)
from shared.connections.revocation import revoke_owed
from shared.connectors.oauth import OAuthError
from shared.infra import db, metrics
from shared.infra.outbound import parse_networks
from tests.fakes.revocable import FakeRevocable, Issued
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory, eventually
from tests.workflow_fixtures import running_worker, worker_settings

ACCOUNT = "user-1"
# Two apps at the same fake: the default client authentication (HTTP Basic) revoking the
# refresh token, and client_secret_post revoking the access token.
APPS = {
    "revocable": "",
    "revocable_post": 'token_auth = "client_secret_post"\nrevoke_token = "access_token"\n',
}


def app_toml(url: str, extra: str) -> str:
    """A catalog entry for an app served by the fake at ``url``."""
    return f"""name = "Revocable"
description = "A provider for connection lifecycle tests."
categories = ["test"]
auth_kind = "oauth2"
api_base_url = "{url}/api"

[oauth]
authorize_url = "{url}/oauth/authorize"
token_url = "{url}/oauth/token"
revoke_url = "{url}/oauth/revoke"
refresh_rotates = true
{extra}"""


@dataclass
class World:
    acme: Api
    fake: FakeRevocable
    source: CredentialSource
    pool: db.Pool

    @property
    def settings(self) -> Settings:
        return self.source.settings


@pytest.fixture
async def world(
    make_client: AppFactory, pool: db.Pool, start_fake: StartFake, tmp_path: Path
) -> World:
    fake = await start_fake(FakeRevocable())
    for slug, extra in APPS.items():
        (tmp_path / f"{slug}.toml").write_text(app_toml(fake.url, extra))
    http = await make_client(
        catalog_overrides=str(tmp_path),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
    )
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    for slug in APPS:
        enabled = await acme.call(
            "PUT",
            f"/v1/apps/{slug}",
            {
                "enabled": True,
                "oauth_client_id": fake.client_id,
                "oauth_client_secret": fake.client_secret,
            },
        )
        assert enabled.status == 200, enabled.body
    account = await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": ACCOUNT})
    assert account.status == 201, account.body
    # Deleted connections are announced only where an endpoint listens (disabled: nothing sent).
    hook = await acme.call(
        "POST",
        "/v1/webhook-endpoints",
        {
            "url": f"{fake.url}/hooks",
            "enabled": False,
            "event_types": ["connection.needs_reauth", "connection.deleted"],
        },
    )
    assert hook.status == 201, hook.body
    res = http.app[RESOURCES]
    source = CredentialSource(res.pool, res.redis, res.keyring, res.catalog, res.http, res.settings)
    return World(acme, fake, source, pool)


async def connect(
    world: World,
    app: str = "revocable",
    *,
    expires_in: int = 3600,
    refreshable: bool = True,
    reauthorise: uuid.UUID | None = None,
) -> tuple[uuid.UUID, Issued]:
    """A connection authorised with tokens the fake issued, stored as the Link flow stores it
    (``refreshable=False``: the provider gave no refresh token)."""
    issued = world.fake.issue(expires_in=expires_in)
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    plaintext = orjson.dumps(
        {
            "kind": "oauth2",
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token if refreshable else None,
            "token_type": "Bearer",
            "expires_at": expires_at.isoformat(),
        }
    )
    keyring = world.source.keyring
    connection = await connection_store.save_authorised_connection(
        world.pool,
        tenant=world.acme.tenant,
        linked_account_id=ACCOUNT,
        app=app,
        seal=lambda row_id: keyring.seal(plaintext, bound_to=connection_binding(row_id)),
        expires_at=expires_at,
        provider_account_id=None,
        fields={},
        update_connection_id=reauthorise,  # update mode: the user authorises that one again
    )
    assert connection is not None
    return connection.id, issued


async def stored(world: World, connection_id: uuid.UUID) -> dict[str, Any]:
    """The connection's credentials as Postgres holds them."""
    found = await connection_store.get_connection(
        world.pool, tenant=world.acme.tenant, connection_id=connection_id
    )
    assert found is not None
    return open_credentials(world.source.keyring, found)


async def shown(world: World, connection_id: uuid.UUID) -> dict[str, Any]:
    """``GET /v1/connections/{id}``."""
    reply = await world.acme.call("GET", f"/v1/connections/{connection_id}")
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


async def refresh(world: World, connection_id: uuid.UUID, rejected: str) -> dict[str, Any]:
    """What a job does when the app refused ``rejected``: refresh, under the lock."""
    return await current_credentials(
        world.source,
        tenant=world.acme.tenant,
        connection_id=connection_id,
        rejected_token=rejected,
    )


async def announced(world: World, event_type: str) -> list[dict[str, Any]]:
    """The ``data`` of the webhook messages of this type, oldest first."""
    rows = await world.pool.fetch(
        "SELECT payload FROM webhook_messages WHERE type = $1 ORDER BY created_at", event_type
    )
    return [r["payload"]["data"] for r in rows]


def counted(counter: Any, *labels: str) -> float:
    """A Prometheus counter's current value."""
    child = counter.labels(*labels) if labels else counter
    value: float = child._value.get()
    return value


# --- health statuses --------------------------------------------------------------------


async def test_a_refused_refresh_needs_reauth_until_the_user_authorises_again(
    world: World,
) -> None:
    connection_id, issued = await connect(world)
    before = await shown(world, connection_id)
    assert (before["status"], before["status_reason"]) == ("active", None)
    world.fake.refresh_answer = "invalid_grant"
    failures = counted(metrics.REFRESH_FAILURES, "reauth")

    with pytest.raises(ReauthorizationNeeded):
        await refresh(world, connection_id, issued.access_token)

    after = await shown(world, connection_id)
    assert after["status"] == "needs_reauth"
    assert after["status_reason"] == "token refresh refused: invalid_grant"
    assert after["status_changed_at"] > before["status_changed_at"]
    assert counted(metrics.REFRESH_FAILURES, "reauth") == failures + 1
    [event] = await announced(world, "connection.needs_reauth")
    assert event == {
        "connection_id": str(connection_id),
        "linked_account_id": ACCOUNT,
        "app": "revocable",
        "status": "needs_reauth",
        "reason": "token refresh refused: invalid_grant",
    }
    # The list filters by the new statuses too.
    listed = await world.acme.call("GET", "/v1/connections?status=needs_reauth")
    assert [c["id"] for c in listed.body["data"]] == [str(connection_id)]
    # No more calls with it: a job finds it unusable without asking the provider.
    with pytest.raises(ReauthorizationNeeded):
        await current_credentials(
            world.source, tenant=world.acme.tenant, connection_id=connection_id
        )
    assert len(world.fake.token_requests) == 1

    # The user goes through Link again (update mode stores new credentials): active again.
    world.fake.refresh_answer = "tokens"
    await connect(world, reauthorise=connection_id)
    again = await shown(world, connection_id)
    assert (again["status"], again["status_reason"]) == ("active", None)
    assert again["status_changed_at"] > after["status_changed_at"]


async def test_a_provider_saying_revoked_makes_the_connection_revoked(world: World) -> None:
    connection_id, issued = await connect(world)
    world.fake.refresh_answer = "token_revoked"

    with pytest.raises(ReauthorizationNeeded):
        await refresh(world, connection_id, issued.access_token)

    after = await shown(world, connection_id)
    assert (after["status"], after["status_reason"]) == (
        "revoked",
        "token refresh refused: token_revoked",
    )
    [event] = await announced(world, "connection.needs_reauth")
    assert (event["connection_id"], event["status"]) == (str(connection_id), "revoked")
    listed = await world.acme.call("GET", "/v1/connections?status=revoked")
    assert [c["id"] for c in listed.body["data"]] == [str(connection_id)]


async def test_refreshes_failing_in_a_row_mark_an_error_and_a_success_clears_it(
    world: World,
) -> None:
    connection_id, issued = await connect(world)
    world.fake.refresh_answer = "server_error"
    assert world.settings.refresh_error_after == 3

    for attempt in range(1, 4):
        with pytest.raises(OAuthError):
            await refresh(world, connection_id, issued.access_token)
        status = await shown(world, connection_id)
        if attempt < 3:
            assert (status["status"], status["status_reason"]) == ("active", None)
    assert status["status"] == "error"
    assert status["status_reason"] == "token refresh failed: temporarily_unavailable"
    assert await announced(world, "connection.needs_reauth") == []  # nothing for the user to do

    # Still used (the access token may well work), and the next refresh that works heals it.
    world.fake.refresh_answer = "tokens"
    creds = await refresh(world, connection_id, issued.access_token)
    assert world.fake.access_token_works(creds["access_token"])
    healed = await shown(world, connection_id)
    assert (healed["status"], healed["status_reason"]) == ("active", None)
    assert healed["status_changed_at"] > status["status_changed_at"]
    failures = await world.pool.fetchval(
        "SELECT refresh_failures FROM connections WHERE id = $1", connection_id
    )
    assert failures == 0


async def test_the_api_documents_the_status_and_when_it_changed(world: World) -> None:
    reply = await world.acme.call("GET", "/openapi.json", auth="none")
    schemas = reply.body["components"]["schemas"]
    read = schemas["ConnectionRead"]["properties"]
    assert "status_changed_at" in read
    assert "status_reason" in read
    status_schema = str(read["status"]) + str(schemas.get("ConnectionStatus", ""))
    for status in ("active", "error", "needs_reauth", "revoked"):
        assert status in status_schema


# --- refresh ahead of expiry, rotation, one refresh across workers ------------------------


async def test_the_refresh_cron_renews_tokens_nearing_expiry_once(world: World) -> None:
    near_id, near = await connect(world, expires_in=120)  # within refresh_ahead (600 s)
    far_id, far = await connect(world, "revocable_post", expires_in=3600)
    refreshes = counted(metrics.REFRESHES)

    assert await refresh_due(world.source) == 1

    [request] = world.fake.token_requests
    assert request.form["grant_type"] == "refresh_token"
    assert request.form["refresh_token"] == near.refresh_token
    assert (request.client_id, request.basic) == (world.fake.client_id, True)
    renewed = await shown(world, near_id)
    assert datetime.fromisoformat(renewed["credentials_expires_at"]) > datetime.now(
        UTC
    ) + timedelta(seconds=3000)
    assert (await stored(world, far_id))["access_token"] == far.access_token
    assert counted(metrics.REFRESHES) == refreshes + 1

    # Idempotent: the next scans find nothing due.
    assert await refresh_due(world.source) == 0
    assert len(world.fake.token_requests) == 1


async def test_a_connection_the_cron_cannot_refresh_waits_before_it_is_tried_again(
    world: World,
) -> None:
    connection_id, _ = await connect(world, expires_in=120)
    world.fake.refresh_answer = "server_error"

    assert await refresh_due(world.source) == 1
    assert await refresh_due(world.source) == 0  # held for refresh_retry_interval
    assert len(world.fake.token_requests) == 1
    assert (await shown(world, connection_id))["status"] == "active"  # one failure so far


async def test_a_connection_without_a_refresh_token_is_left_alone_until_it_has_new_ones(
    world: World,
) -> None:
    connection_id, _ = await connect(world, expires_in=120, refreshable=False)

    assert await refresh_due(world.source) == 1
    held = "SELECT refresh_not_before = 'infinity' FROM connections WHERE id = $1"
    assert await world.pool.fetchval(held, connection_id) is True
    assert world.fake.token_requests == []
    assert (await shown(world, connection_id))["status"] == "active"

    # authorised again, now with a refresh token
    await connect(world, expires_in=120, reauthorise=connection_id)
    assert await world.pool.fetchval(held, connection_id) is None  # NULL: no hold
    assert await refresh_due(world.source) == 1
    assert len(world.fake.token_requests) == 1


async def test_the_worker_runs_the_refresh_cron(world: World) -> None:
    connection_id, near = await connect(world, expires_in=120)
    async with running_worker(worker_settings(world.acme)):
        creds = await eventually(
            lambda: stored(world, connection_id),
            lambda c: c["refresh_token"] != near.refresh_token,
            timeout=10,
        )
    assert len(world.fake.token_requests) == 1
    assert world.fake.refresh_token_works(creds["refresh_token"])


async def test_a_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(
    world: World,
) -> None:
    connection_id, issued = await connect(world)

    creds = await refresh(world, connection_id, issued.access_token)

    kept = await stored(world, connection_id)
    assert kept["access_token"] == creds["access_token"] != issued.access_token
    assert kept["refresh_token"] == creds["refresh_token"] != issued.refresh_token
    # At the provider the old refresh token is dead and the stored one is the live one.
    assert not world.fake.refresh_token_works(issued.refresh_token)
    assert world.fake.refresh_token_works(kept["refresh_token"])
    # So the next refresh works (it uses the stored token, not the spent one).
    again = await refresh(world, connection_id, creds["access_token"])
    assert world.fake.access_token_works(again["access_token"])
    assert [r.form["refresh_token"] for r in world.fake.token_requests] == [
        issued.refresh_token,
        kept["refresh_token"],
    ]


async def test_twenty_calls_from_two_workers_make_one_refresh(world: World, redis_url: str) -> None:
    connection_id, issued = await connect(world, expires_in=10)  # within refresh_margin
    # A second worker: its own Postgres pool and Redis client, the same settings.
    other_pool = await db.create_pool(world.settings)
    other_redis: Redis = Redis.from_url(redis_url)
    try:
        other = CredentialSource(
            other_pool,
            other_redis,
            world.source.keyring,
            world.source.catalog,
            world.source.http,
            world.settings,
        )
        sources = [world.source, other] * 10
        results = await asyncio.gather(
            *(
                current_credentials(s, tenant=world.acme.tenant, connection_id=connection_id)
                for s in sources
            )
        )
    finally:
        await other_pool.close()
        await other_redis.aclose()

    assert len(world.fake.token_requests) == 1
    tokens = {r["access_token"] for r in results}
    assert len(tokens) == 1
    assert tokens != {issued.access_token}
    assert world.fake.access_token_works(tokens.pop())
    assert world.fake.refresh_token_works((await stored(world, connection_id))["refresh_token"])


# --- revocation on delete -----------------------------------------------------------------


async def test_deleting_a_connection_revokes_its_token_at_the_provider(world: World) -> None:
    connection_id, issued = await connect(world)

    deleted = await world.acme.call("DELETE", f"/v1/connections/{connection_id}")
    assert deleted.status == 200, deleted.body
    # Owed in the same transaction as the delete (sealed, never in clear).
    owed = await world.pool.fetchrow(
        "SELECT * FROM connection_revocations WHERE connection_id = $1", connection_id
    )
    assert owed is not None
    assert issued.refresh_token.encode() not in owed["credentials"]

    async with running_worker(worker_settings(world.acme)):
        await eventually(
            lambda: world.pool.fetchval("SELECT count(*) FROM connection_revocations"),
            lambda n: n == 0,
            timeout=10,
        )
    [revoke] = world.fake.revoke_requests
    assert revoke.form == {"token": issued.refresh_token, "token_type_hint": "refresh_token"}
    assert (revoke.client_id, revoke.basic) == (world.fake.client_id, True)
    assert not world.fake.refresh_token_works(issued.refresh_token)
    assert not world.fake.access_token_works(issued.access_token)
    [event] = await announced(world, "connection.deleted")
    assert (event["connection_id"], event["status"]) == (str(connection_id), "deleted")


async def test_a_revocation_endpoint_that_is_down_neither_blocks_the_delete_nor_is_forgotten(
    world: World,
) -> None:
    connection_id, issued = await connect(world)
    world.fake.revocation_down = True
    retries = counted(metrics.REVOCATIONS, "retry")

    deleted = await world.acme.call("DELETE", f"/v1/connections/{connection_id}")
    assert deleted.status == 200, deleted.body
    assert (await world.acme.call("GET", f"/v1/connections/{connection_id}")).status == 404

    assert await revoke_owed(world.source) == {"retry": 1}
    owed = await world.pool.fetchrow(
        "SELECT attempts, next_attempt_at, last_error FROM connection_revocations"
    )
    assert owed is not None
    assert owed["attempts"] == 1
    assert owed["next_attempt_at"] > datetime.now(UTC)
    assert owed["last_error"] == "revocation endpoint answered 503"
    assert counted(metrics.REVOCATIONS, "retry") == retries + 1
    assert await revoke_owed(world.source) == {}  # not due yet
    assert world.fake.refresh_token_works(issued.refresh_token)

    # The provider is back and the retry is due: the token is revoked, the row forgotten.
    world.fake.revocation_down = False
    await world.pool.execute("UPDATE connection_revocations SET next_attempt_at = now()")
    assert await revoke_owed(world.source) == {"revoked": 1}
    assert [r.form["token"] for r in world.fake.revoke_requests] == [issued.refresh_token] * 2
    assert not world.fake.refresh_token_works(issued.refresh_token)
    assert await world.pool.fetchval("SELECT count(*) FROM connection_revocations") == 0


async def test_a_revocation_is_given_up_after_the_last_attempt(world: World) -> None:
    connection_id, _ = await connect(world)
    world.fake.revocation_down = True
    await world.acme.call("DELETE", f"/v1/connections/{connection_id}")
    last = world.settings.revocation_max_attempts
    await world.pool.execute("UPDATE connection_revocations SET attempts = $1", last - 1)

    assert await revoke_owed(world.source) == {"abandoned": 1}
    assert await world.pool.fetchval("SELECT count(*) FROM connection_revocations") == 0


async def test_deleting_a_linked_account_revokes_and_announces_each_connection(
    world: World,
) -> None:
    basic_id, basic = await connect(world, "revocable")
    post_id, post = await connect(world, "revocable_post")

    deleted = await world.acme.call("DELETE", f"/v1/linked-accounts/{ACCOUNT}")
    assert deleted.status == 200, deleted.body

    events = await announced(world, "connection.deleted")
    assert sorted((e["connection_id"], e["app"], e["status"]) for e in events) == sorted(
        [
            (str(basic_id), "revocable", "deleted"),
            (str(post_id), "revocable_post", "deleted"),
        ]
    )
    assert await revoke_owed(world.source) == {"revoked": 2}
    by_token = {r.form["token"]: r for r in world.fake.revoke_requests}
    # revocable: the refresh token, client by HTTP Basic.
    first = by_token[basic.refresh_token]
    assert (first.form["token_type_hint"], first.basic) == ("refresh_token", True)
    # revocable_post: the access token, client id and secret in the form.
    second = by_token[post.access_token]
    assert second.form == {
        "token": post.access_token,
        "token_type_hint": "access_token",
        "client_id": world.fake.client_id,
        "client_secret": world.fake.client_secret,
    }
    assert not second.basic
    assert not world.fake.refresh_token_works(basic.refresh_token)
    assert not world.fake.access_token_works(post.access_token)
