"""Linked accounts and orgs: CRUD, pagination, tenancy, and deletion of what hangs off them."""

from __future__ import annotations

from functools import partial

from services.gateway.appkeys import RESOURCES
from shared.connections.models import ConnectionStatus
from shared.connections.store import upsert_connection
from shared.infra import db
from shared.link.service import consume_link_token
from tests.helpers import Api, AppFactory, eventually
from tests.workflow_fixtures import CONTACT_SAMPLE, define_contact_event


async def test_create_then_recreate_updates_and_says_so(acme: Api) -> None:
    body = {"linked_account_id": "Test2", "name": "Test account 2", "metadata": {"plan": "pro"}}
    created = await acme.call("POST", "/v1/linked-accounts", body)
    assert created.status == 201
    assert created.body["created"] is True
    assert created.body["name"] == "Test account 2"
    assert created.body["metadata"] == {"plan": "pro"}

    again = await acme.call(
        "POST", "/v1/linked-accounts", {"linked_account_id": "Test2", "name": "Renamed"}
    )
    assert again.status == 200
    assert again.body["created"] is False
    assert again.body["name"] == "Renamed"
    assert again.body["metadata"] == {"plan": "pro"}  # not given, so kept


async def test_linked_account_with_new_org_creates_the_org(acme: Api) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "a", "org_id": "clinic-1"})
    assert (await acme.call("GET", "/v1/orgs/clinic-1")).status == 200


async def test_get_patch_and_delete(acme: Api) -> None:
    await acme.call(
        "POST", "/v1/linked-accounts", {"linked_account_id": "account:12345", "name": "A"}
    )
    got = await acme.call("GET", "/v1/linked-accounts/account:12345")
    assert got.status == 200
    assert got.body["linked_account_id"] == "account:12345"

    patched = await acme.call("PATCH", "/v1/linked-accounts/account:12345", {"metadata": {"x": 1}})
    assert patched.status == 200
    assert patched.body["metadata"] == {"x": 1}
    assert patched.body["name"] == "A"

    cleared = await acme.call("PATCH", "/v1/linked-accounts/account:12345", {"name": None})
    assert cleared.body["name"] is None

    deleted = await acme.call("DELETE", "/v1/linked-accounts/account:12345")
    assert deleted.status == 200
    assert deleted.body == {"success": True, "deleted": True}
    assert (await acme.call("GET", "/v1/linked-accounts/account:12345")).status == 404
    assert (await acme.call("DELETE", "/v1/linked-accounts/account:12345")).status == 404
    assert (
        await acme.call("PATCH", "/v1/linked-accounts/account:12345", {"name": "x"})
    ).status == 404


async def test_patch_of_unknown_account_creates_no_org(acme: Api) -> None:
    reply = await acme.call("PATCH", "/v1/linked-accounts/ghost", {"org_id": "new-org"})
    assert reply.status == 404
    assert (await acme.call("GET", "/v1/orgs/new-org")).status == 404
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "real"})
    moved = await acme.call("PATCH", "/v1/linked-accounts/real", {"org_id": "new-org"})
    assert moved.body["org_id"] == "new-org"
    assert (await acme.call("GET", "/v1/orgs/new-org")).status == 200


async def test_ids_with_url_special_characters_round_trip(acme: Api) -> None:
    weird = "user/with space?and#hash"
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": weird})
    from urllib.parse import quote

    got = await acme.call("GET", "/v1/linked-accounts/" + quote(weird, safe=""))
    assert got.status == 200
    assert got.body["linked_account_id"] == weird


async def test_bad_fields_are_422s_naming_them(acme: Api) -> None:
    cases = [
        ({"name": "x"}, "linked_account_id"),
        ({"linked_account_id": ""}, "linked_account_id"),
        ({"linked_account_id": "a" * 256}, "linked_account_id"),
        ({"linked_account_id": "a\nb"}, "linked_account_id"),
        ({"linked_account_id": "a", "metadata": "nope"}, "metadata"),
        ({"linked_account_id": "a", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        reply = await acme.call("POST", "/v1/linked-accounts", body)
        assert reply.status == 422, body
        assert reply.body["error"]["field"] == field, body
    assert (await acme.call("GET", "/v1/linked-accounts")).body["data"] == []


async def test_list_pages_through_everything_with_a_cursor(acme: Api) -> None:
    ids = [f"acct-{i:02d}" for i in range(7)]
    for account_id in reversed(ids):
        await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": account_id})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = await acme.call("GET", "/v1/linked-accounts", params=params)
        assert page.status == 200
        seen += [a["linked_account_id"] for a in page.body["data"]]
        pages += 1
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3


async def test_list_filters_by_org_and_bounds_the_page_size(acme: Api) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "a", "org_id": "o1"})
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "b", "org_id": "o2"})
    only = await acme.call("GET", "/v1/linked-accounts", params={"org_id": "o2"})
    assert [a["linked_account_id"] for a in only.body["data"]] == ["b"]
    too_big = await acme.call("GET", "/v1/linked-accounts", params={"limit": "201"})
    assert too_big.status == 422
    assert too_big.body["error"]["field"] == "limit"
    zero = await acme.call("GET", "/v1/linked-accounts", params={"limit": "0"})
    assert zero.status == 422
    bad_cursor = await acme.call("GET", "/v1/linked-accounts", params={"cursor": "%%%"})
    assert bad_cursor.status == 422
    assert bad_cursor.body["error"]["field"] == "cursor"
    typo = await acme.call("GET", "/v1/linked-accounts", params={"org": "o2"})
    assert typo.status == 422
    assert typo.body["error"]["field"] == "org"


async def test_another_tenants_objects_are_404(acme: Api, globex: Api) -> None:
    await globex.call(
        "POST", "/v1/linked-accounts", {"linked_account_id": "shared-id", "org_id": "g-org"}
    )
    assert (await acme.call("GET", "/v1/linked-accounts/shared-id")).status == 404
    assert (await acme.call("PATCH", "/v1/linked-accounts/shared-id", {"name": "x"})).status == 404
    assert (await acme.call("DELETE", "/v1/linked-accounts/shared-id")).status == 404
    assert (await acme.call("GET", "/v1/orgs/g-org")).status == 404
    assert (await acme.call("GET", "/v1/linked-accounts")).body["data"] == []
    assert (await acme.call("GET", "/v1/orgs")).body["data"] == []
    session = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "shared-id"})
    assert session.status == 404
    # The same id is free for Acme, and independent.
    assert (
        await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "shared-id"})
    ).status == 201
    assert (await globex.call("GET", "/v1/linked-accounts/shared-id")).body["org_id"] == "g-org"


async def test_delete_removes_connections_and_kills_tokens(acme: Api, pool: db.Pool) -> None:
    res = acme.http.app[RESOURCES]
    consume = partial(consume_link_token, pool=res.pool, redis=res.redis, caches=res.caches)
    link = await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o"})
    session = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "u1"})
    await upsert_connection(
        pool,
        tenant=acme.tenant,
        linked_account_id="u1",
        app="sandbox",
        status=ConnectionStatus.ACTIVE,
    )
    bearer = {"Authorization": f"Bearer {session.body['token']}"}
    assert (await acme.call("GET", "/v1/connections", auth="none", headers=bearer)).status == 200

    assert (await acme.call("DELETE", "/v1/linked-accounts/u1")).status == 200
    assert await pool.fetchval("SELECT count(*) FROM connections") == 0
    assert await consume(token=link.body["token"]) is None
    assert (await acme.call("GET", "/v1/connections", auth="none", headers=bearer)).status == 401


async def test_tokens_of_a_deleted_account_stay_dead_when_the_id_is_reused(acme: Api) -> None:
    res = acme.http.app[RESOURCES]
    consume = partial(consume_link_token, pool=res.pool, redis=res.redis, caches=res.caches)
    old_link = await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o"})
    old_session = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "u1"})
    assert (await acme.call("DELETE", "/v1/linked-accounts/u1")).status == 200
    assert (
        await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "u1"})
    ).status == 201

    bearer = {"Authorization": f"Bearer {old_session.body['token']}"}
    assert (await acme.call("GET", "/v1/connections", auth="none", headers=bearer)).status == 401
    assert await consume(token=old_link.body["token"]) is None
    new_link = await acme.call("POST", "/link/token/create", {"user_id": "u1", "org_id": "o"})
    grant = await consume(token=new_link.body["token"])
    assert grant is not None
    assert grant.linked_account_id == "u1"


async def test_deletion_on_one_gateway_kills_sessions_on_another(
    acme: Api, make_client: AppFactory
) -> None:
    other = Api(await make_client(), acme.credentials, acme.tenant)
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "u1"})
    session = await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "u1"})
    bearer = {"Authorization": f"Bearer {session.body['token']}"}
    assert (
        await other.call("GET", "/v1/connections", auth="none", headers=bearer)
    ).status == 200  # cached
    assert (await acme.call("DELETE", "/v1/linked-accounts/u1")).status == 200

    async def status_on_other() -> int:
        return (await other.call("GET", "/v1/connections", auth="none", headers=bearer)).status

    await eventually(status_on_other, lambda status: status == 401, timeout=3)


async def test_orgs_list_and_get(acme: Api) -> None:
    for org in ("org-b", "org-a", "org-c"):
        await acme.call("POST", "/link/token/create", {"user_id": f"u-{org}", "org_id": org})
    page = await acme.call("GET", "/v1/orgs", params={"limit": "2"})
    assert [o["org_id"] for o in page.body["data"]] == ["org-a", "org-b"]
    rest = await acme.call("GET", "/v1/orgs", params={"cursor": page.body["next_cursor"]})
    assert [o["org_id"] for o in rest.body["data"]] == ["org-c"]
    assert rest.body["next_cursor"] is None
    assert (await acme.call("GET", "/v1/orgs/nope")).status == 404


async def test_delete_removes_the_accounts_events_and_executions_only(
    acme: Api, pool: db.Pool
) -> None:
    await define_contact_event(acme)
    sent = {}
    for account in ("u1", "u2"):
        await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": account})
        reply = await acme.call(
            "POST",
            "/v1/events",
            {"event": "contact.created", "linked_account_id": account, "payload": CONTACT_SAMPLE},
        )
        sent[account] = reply.body["event_id"]
    assert (await acme.call("DELETE", "/v1/linked-accounts/u1")).status == 200
    assert (await acme.call("GET", f"/v1/events/{sent['u1']}")).status == 404
    assert (await acme.call("GET", f"/v1/events/{sent['u2']}")).status == 200
    assert await pool.fetchval("SELECT count(*) FROM events") == 1
