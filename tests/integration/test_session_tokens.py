"""Session tokens: 24 h, one linked account, frontend routes only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from shared.clients import store as clients
from shared.connections.models import ConnectionStatus
from shared.connections.store import upsert_connection
from shared.infra import db, redis_keys, tokens
from shared.infra.tokens import TokenKind
from tests.helpers import Api, AppFactory, eventually


async def _session(api: Api, account: str) -> str:
    await api.call("POST", "/v1/linked-accounts", {"linked_account_id": account})
    reply = await api.call("POST", "/v1/session-tokens", {"linked_account_id": account})
    assert reply.status == 201
    token: str = reply.body["token"]
    return token


async def test_session_token_is_issued_for_24_hours(acme: Api, redis: Redis) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "Test2"})
    reply = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "Test2"})
    assert reply.status == 201
    assert reply.body["token"].startswith("st_")
    expires_at = datetime.fromisoformat(reply.body["expires_at"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(seconds=30)
    key = redis_keys.token(TokenKind.SESSION, tokens.hex_digest(reply.body["token"]))
    assert 86390 <= await redis.ttl(key) <= 86400


async def test_session_token_for_unknown_account_is_a_404(acme: Api) -> None:
    reply = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "ghost"})
    assert reply.status == 404
    assert reply.body["error"]["field"] == "linked_account_id"


async def test_session_token_sees_only_its_own_accounts_connections(
    acme: Api, pool: db.Pool
) -> None:
    token = await _session(acme, "mine")
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "theirs"})
    await upsert_connection(
        pool,
        tenant=acme.tenant,
        linked_account_id="mine",
        app="sandbox",
        status=ConnectionStatus.ACTIVE,
    )
    await upsert_connection(
        pool,
        tenant=acme.tenant,
        linked_account_id="theirs",
        app="sandbox",
        status=ConnectionStatus.ACTIVE,
    )
    bearer = {"Authorization": f"Bearer {token}"}

    own = await acme.call("GET", "/v1/connections", auth="none", headers=bearer)
    assert own.status == 200
    assert [c["linked_account_id"] for c in own.body["data"]] == ["mine"]
    sneaky = await acme.call(
        "GET",
        "/v1/connections",
        auth="none",
        headers=bearer,
        params={"linked_account_id": "theirs"},
    )
    assert [c["linked_account_id"] for c in sneaky.body["data"]] == ["mine"]

    server = await acme.call("GET", "/v1/connections")
    assert sorted(c["linked_account_id"] for c in server.body["data"]) == ["mine", "theirs"]
    filtered = await acme.call(
        "GET", "/v1/connections", params={"linked_account_id": "theirs", "status": "active"}
    )
    assert [c["linked_account_id"] for c in filtered.body["data"]] == ["theirs"]
    bad_status = await acme.call("GET", "/v1/connections", params={"status": "sleepy"})
    assert bad_status.status == 422
    assert bad_status.body["error"]["field"] == "status"


async def test_session_token_cannot_call_server_routes(acme: Api) -> None:
    token = await _session(acme, "a")
    bearer = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("POST", "/link/token/create", {"user_id": "u", "org_id": "o"}),
        ("POST", "/v1/session-tokens", {"linked_account_id": "a"}),
        ("GET", "/v1/linked-accounts", None),
        ("DELETE", "/v1/linked-accounts/a", None),
        ("GET", "/v1/settings", None),
    ]:
        reply = await acme.call(method, path, body, auth="none", headers=bearer)
        assert reply.status == 403, path
        assert reply.body["error"]["code"] == "session_token_not_allowed"
    as_api_key = await acme.call("GET", "/v1/orgs", auth="none", headers={"X-API-Key": token})
    assert as_api_key.status == 401
    assert (await acme.call("GET", "/v1/linked-accounts/a")).status == 200  # nothing was deleted


async def test_unknown_session_token_is_a_401(acme: Api) -> None:
    bearer = {"Authorization": "Bearer st_forgedforgedforged"}
    reply = await acme.call("GET", "/v1/connections", auth="none", headers=bearer)
    assert reply.status == 401


async def test_session_token_expires(make_client: AppFactory, pool: db.Pool) -> None:
    http = await make_client(session_token_ttl=1)
    api = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="A", environment="test")
    )
    bearer = {"Authorization": f"Bearer {await _session(api, 'a')}"}

    async def status() -> int:
        return (await api.call("GET", "/v1/connections", auth="none", headers=bearer)).status

    assert await status() == 200
    await eventually(status, lambda s: s == 401, timeout=5)
