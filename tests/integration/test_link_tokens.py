"""Link tokens: the EMR shape (``/link/token/create``) and the wearables shape (``/v2/link/token``)."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial

from redis.asyncio import Redis

from services.gateway.appkeys import RESOURCES
from shared.grants.models import LinkGrant
from shared.infra import db, redis_keys, tokens
from shared.infra.tokens import TokenKind
from shared.link.service import consume_link_token
from tests.helpers import Api, AppFactory, eventually


async def _grant(redis: Redis, token: str) -> LinkGrant | None:
    raw = await redis.get(redis_keys.token(TokenKind.LINK, tokens.hex_digest(token)))
    return None if raw is None else LinkGrant.model_validate_json(raw)


async def test_emr_link_token_answers_the_seed_shape_and_creates_user_and_org(
    acme: Api, redis: Redis, pool: db.Pool
) -> None:
    reply = await acme.call(
        "POST",
        "/link/token/create",
        {
            "user_id": "user_12345",
            "org_id": "org_67890",
            "emr_name": "YourEMRName",
            "emr_instance_domain": "https://your-emr-instance.com",
        },
        auth="secret",
    )
    assert reply.status == 200
    assert set(reply.body) == {"success", "token"}
    assert reply.body["success"] is True
    token = reply.body["token"]
    assert token.startswith("lt_")
    assert len(token) > 30

    grant = await _grant(redis, token)
    assert grant is not None
    assert (grant.linked_account_id, grant.org_id, grant.flow) == ("user_12345", "org_67890", "emr")
    assert grant.client_id == acme.tenant.client_id
    ttl = await redis.ttl(redis_keys.token(TokenKind.LINK, tokens.hex_digest(token)))
    assert 1790 <= ttl <= 1800

    org = await acme.call("GET", "/v1/orgs/org_67890")
    assert org.status == 200
    assert org.body["emr_name"] == "YourEMRName"
    assert org.body["emr_instance_domain"] == "https://your-emr-instance.com"
    account = await acme.call("GET", "/v1/linked-accounts/user_12345")
    assert account.status == 200
    assert account.body["org_id"] == "org_67890"


async def test_v1_route_and_alias_behave_the_same(acme: Api) -> None:
    for path in ("/v1/link/token/create", "/link/token/create"):
        reply = await acme.call("POST", path, {"user_id": "u", "org_id": "o"}, auth="secret")
        assert reply.status == 200
        assert reply.body["token"].startswith("lt_")


async def test_existing_org_is_not_overwritten_by_later_emr_fields(acme: Api) -> None:
    body = {"user_id": "u1", "org_id": "o1", "emr_name": "First"}
    assert (await acme.call("POST", "/link/token/create", body)).status == 200
    body = {"user_id": "u2", "org_id": "o1", "emr_name": "Second"}
    assert (await acme.call("POST", "/link/token/create", body)).status == 200
    assert (await acme.call("GET", "/v1/orgs/o1")).body["emr_name"] == "First"


async def test_link_token_moves_an_existing_user_to_the_named_org(acme: Api) -> None:
    await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o1"})
    await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o2"})
    assert (await acme.call("GET", "/v1/linked-accounts/u1")).body["org_id"] == "o2"


async def test_missing_required_field_is_a_422_naming_it(acme: Api) -> None:
    reply = await acme.call("POST", "/link/token/create", {"user_id": "user_12345"}, auth="secret")
    assert reply.status == 422
    assert reply.body["success"] is False
    assert reply.body["error"]["code"] == "validation_failed"
    assert reply.body["error"]["field"] == "org_id"


async def test_invalid_emr_instance_domain_is_rejected(acme: Api) -> None:
    body = {"user_id": "u", "org_id": "o", "emr_instance_domain": "ftp://x"}
    reply = await acme.call("POST", "/link/token/create", body)
    assert reply.status == 422
    assert reply.body["error"]["field"] == "emr_instance_domain"
    assert (await acme.call("GET", "/v1/orgs/o")).status == 404  # nothing half-written


async def test_update_mode_records_the_connection_of_the_access_token(
    acme: Api, pool: db.Pool, redis: Redis
) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "user_12345"})
    access_token = tokens.mint(tokens.ACCESS_TOKEN_PREFIX)
    connection_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO connections (id, client_id, environment, linked_account_id, app, status,
                                    access_token_hash)
           VALUES ($1, $2, 'test', 'user_12345', 'sandbox', 'active', $3)""",
        connection_id,
        acme.tenant.client_id,
        tokens.digest(access_token),
    )
    body = {"user_id": "user_12345", "org_id": "org_67890", "access_token": access_token}
    reply = await acme.call("POST", "/link/token/create", body, auth="secret")
    assert reply.status == 200
    grant = await _grant(redis, reply.body["token"])
    assert grant is not None
    assert grant.update_connection_id == connection_id

    other_user = {**body, "user_id": "someone_else"}
    reply = await acme.call("POST", "/link/token/create", other_user, auth="secret")
    assert reply.status == 404
    assert reply.body["error"]["field"] == "access_token"


async def test_update_mode_with_unknown_access_token_is_a_404(acme: Api) -> None:
    body = {"user_id": "u", "org_id": "o", "access_token": "at_doesnotexist123456"}
    reply = await acme.call("POST", "/link/token/create", body)
    assert reply.status == 404
    assert reply.body["error"]["field"] == "access_token"


async def test_link_token_is_single_use(acme: Api) -> None:
    res = acme.http.app[RESOURCES]
    consume = partial(consume_link_token, pool=res.pool, redis=res.redis, caches=res.caches)
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u", "org_id": "o"})).body[
        "token"
    ]
    first = await consume(token=token)
    second = await consume(token=token)
    assert first is not None
    assert first.linked_account_id == "u"
    assert second is None


async def test_concurrent_uses_of_one_link_token_succeed_once(acme: Api) -> None:
    res = acme.http.app[RESOURCES]
    consume = partial(consume_link_token, pool=res.pool, redis=res.redis, caches=res.caches)
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u", "org_id": "o"})).body[
        "token"
    ]
    results = await asyncio.gather(*(consume(token=token) for _ in range(20)))
    assert sum(grant is not None for grant in results) == 1


async def test_link_token_is_kept_only_as_a_hash_and_never_in_postgres(
    acme: Api, redis: Redis, pool: db.Pool
) -> None:
    token = (await acme.call("POST", "/link/token/create", {"user_id": "u", "org_id": "o"})).body[
        "token"
    ]
    keys = [k.decode() async for k in redis.scan_iter("*")]
    assert all(token not in k for k in keys)
    for key in keys:
        if (await redis.type(key)) == b"string":
            assert token.encode() not in (await redis.get(key) or b"")
    dump = await pool.fetchval(
        """SELECT string_agg(t::text, ' ') FROM (
             SELECT row_to_json(x)::text AS t FROM linked_accounts x
             UNION ALL SELECT row_to_json(o)::text FROM orgs o) rows"""
    )
    assert token not in dump


async def test_link_token_expires_after_its_ttl(
    make_client: AppFactory, pool: db.Pool, redis: Redis
) -> None:
    from shared.clients import store as clients

    http = await make_client(link_token_ttl=1)
    api = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="A", environment="test")
    )
    token = (await api.call("POST", "/link/token/create", {"user_id": "u", "org_id": "o"})).body[
        "token"
    ]
    key = redis_keys.token(TokenKind.LINK, tokens.hex_digest(token))
    assert await redis.exists(key)
    await eventually(lambda: redis.exists(key), lambda n: n == 0, timeout=5)


async def test_wearables_link_token_answers_the_seed_shape(acme: Api, redis: Redis) -> None:
    reply = await acme.call(
        "POST",
        "/v2/link/token",
        {"user_id": "1875c190-0cd6-46c1-8670-5b56a7794b78"},
        auth="none",
        headers={"x-vital-api-key": acme.credentials.api_key},
    )
    assert reply.status == 200
    assert set(reply.body) == {"link_token"}
    token = reply.body["link_token"]
    assert token.startswith("lt_")
    key = redis_keys.token(TokenKind.LINK, tokens.hex_digest(token))
    assert 590 <= await redis.ttl(key) <= 600
    grant = await _grant(redis, token)
    assert grant is not None
    assert grant.flow == "wearables"
    account = await acme.call("GET", "/v1/linked-accounts/1875c190-0cd6-46c1-8670-5b56a7794b78")
    assert account.status == 200


async def test_wearables_token_records_provider_options(acme: Api, redis: Redis) -> None:
    body = {"user_id": "u", "provider": "oura", "filter_on_providers": ["oura", "fitbit"]}
    reply = await acme.call("POST", "/v2/link/token", body)
    grant = await _grant(redis, reply.body["link_token"])
    assert grant is not None
    assert grant.provider == "oura"
    assert grant.filter_on_providers == ["oura", "fitbit"]


async def test_wearables_bad_provider_is_a_422(acme: Api) -> None:
    reply = await acme.call(
        "POST", "/v2/link/token", {"user_id": "u", "filter_on_providers": ["Not A Slug"]}
    )
    assert reply.status == 422
    assert reply.body["error"]["field"] == "filter_on_providers.0"


async def test_redirect_url_must_be_on_the_allow_list(acme: Api, redis: Redis) -> None:
    body = {"user_id": "u", "redirect_url": "https://app.acme.test/linked?step=2"}
    refused = await acme.call("POST", "/v2/link/token", body)
    assert refused.status == 400
    assert refused.body["error"]["code"] == "invalid_redirect_url"
    assert refused.body["error"]["field"] == "redirect_url"
    assert (await acme.call("GET", "/v1/linked-accounts/u")).status == 404  # no partial write

    patch = {"allowed_redirect_urls": ["https://app.acme.test/linked"]}
    assert (await acme.call("PATCH", "/v1/settings", patch)).status == 200
    allowed = await acme.call("POST", "/v2/link/token", body)
    assert allowed.status == 200
    grant = await _grant(redis, allowed.body["link_token"])
    assert grant is not None
    assert grant.redirect_url == "https://app.acme.test/linked?step=2"

    other_path = {"user_id": "u", "redirect_url": "https://app.acme.test/elsewhere"}
    assert (await acme.call("POST", "/v2/link/token", other_path)).status == 400
    other_host = {"user_id": "u", "redirect_url": "https://app.acme.test.evil.example/linked"}
    assert (await acme.call("POST", "/v2/link/token", other_host)).status == 400


async def test_callback_url_is_an_allowed_redirect(acme: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"callback_url": "https://acme.test/cb"})
    reply = await acme.call(
        "POST", "/v2/link/token", {"user_id": "u", "redirect_url": "https://acme.test/cb"}
    )
    assert reply.status == 200
