"""Several connections to one app per linked account (two workspaces of one app): each Link
flow makes a new connection, update mode re-authorises the one it names, the same provider
account connected again updates its connection; configs may pin one, else workflows use the
newest active one; and the operator's default OAuth clients."""

from __future__ import annotations

import uuid
from pathlib import Path

from services.gateway.appkeys import RESOURCES
from shared.connections import store as connection_store
from shared.infra import db
from shared.infra.crypto import Sealed
from shared.link.flow import CALLBACK_PATH
from tests.helpers import Api, AppFactory
from tests.link_browser import (
    EMR_LINK,
    Browser,
    link_token,
    open_link,
    run_flow,
    shown_public_token,
    sign_in,
)
from tests.workflow_fixtures import (
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
    run_queued,
    send,
    worker_settings,
)

USER = "user_12345"


async def _connections(api: Api, **params: str) -> list[dict[str, object]]:
    listed = await api.call("GET", "/v1/connections", params=params)
    assert listed.status == 200, listed.body
    data: list[dict[str, object]] = listed.body["data"]
    return data


async def _session(api: Api, user_id: str) -> dict[str, str]:
    issued = await api.call("POST", "/v1/session-tokens", {"linked_account_id": user_id})
    assert issued.status == 201, issued.body
    return {"Authorization": f"Bearer {issued.body['token']}"}


async def test_connecting_twice_makes_two_connections_listed_by_account_and_app(
    acme: Api,
) -> None:
    first = await connect_sandbox(acme)
    second = await connect_sandbox(acme)
    assert first != second

    listed = await _connections(acme, linked_account_id=USER, app="sandbox")
    assert sorted(str(c["id"]) for c in listed) == sorted([first, second])
    assert {c["status"] for c in listed} == {"active"}
    for connection_id in (first, second):
        one = await acme.call("GET", f"/v1/connections/{connection_id}")
        assert one.status == 200
        assert one.body["app"] == "sandbox"


async def test_apps_show_every_connection_and_the_newest_active_as_connection(
    acme: Api, pool: db.Pool
) -> None:
    older = await connect_sandbox(acme)
    newer = await connect_sandbox(acme)
    bearer = await _session(acme, USER)

    apps = await acme.call("GET", "/v1/apps", auth="none", headers=bearer)
    assert apps.status == 200
    sandbox = {a["slug"]: a for a in apps.body["data"]}["sandbox"]
    assert sandbox["connection"] == {"id": newer, "status": "active"}
    assert sandbox["connections"] == [
        {"id": newer, "status": "active"},
        {"id": older, "status": "active"},
    ]

    # The newest needs re-authorising: the older active one is the one workflows use.
    await pool.execute(
        "UPDATE connections SET status = 'needs_reauth' WHERE id = $1", uuid.UUID(newer)
    )
    apps = await acme.call("GET", "/v1/apps", auth="none", headers=bearer)
    sandbox = {a["slug"]: a for a in apps.body["data"]}["sandbox"]
    assert sandbox["connection"] == {"id": older, "status": "active"}
    assert [c["id"] for c in sandbox["connections"]] == [newer, older]


async def test_update_mode_reauthorises_the_named_connection_among_several(
    acme: Api, pool: db.Pool
) -> None:
    browser = Browser(str(acme.http.make_url("/")))
    try:
        page = await run_flow(browser, await link_token(acme))
        exchanged = await acme.call(
            "POST", "/link/token/exchange", {"public_token": shown_public_token(page)}
        )
        older = exchanged.body["connection_id"]
        newer = await connect_sandbox(acme)
        await pool.execute(
            "UPDATE connections SET status = 'needs_reauth' WHERE id = $1", uuid.UUID(older)
        )
        before = await pool.fetchval(
            "SELECT credentials FROM connections WHERE id = $1", uuid.UUID(older)
        )

        token = await link_token(acme, {**EMR_LINK, "access_token": exchanged.body["access_token"]})
        opened = await browser.get(f"/link?token={token}")
        app_page = await browser.get((await browser.get(opened.location or "")).location or "")
        to_provider = await browser.post(
            "/link/session/apps/sandbox",
            {"csrf": app_page.hidden_fields()["csrf"], "submitted": "1"},
        )
        login = await browser.get(to_provider.location or "")
        done = await browser.follow(await sign_in(browser, login))
        assert done.status == 200
    finally:
        await browser.close()

    rows = {
        str(r["id"]): r for r in await pool.fetch("SELECT id, status, credentials FROM connections")
    }
    assert set(rows) == {older, newer}
    assert rows[older]["status"] == "active"
    assert rows[older]["credentials"] != before


async def test_the_same_provider_account_connected_again_updates_its_connection(
    acme: Api, pool: db.Pool
) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": USER})
    sealed = Sealed(b"ciphertext", b"nonce-123456", "k1")

    async def save(provider_account_id: str) -> uuid.UUID:
        saved = await connection_store.save_authorised_connection(
            pool,
            tenant=acme.tenant,
            linked_account_id=USER,
            app="slack",
            seal=lambda _row_id: sealed,
            expires_at=None,
            provider_account_id=provider_account_id,
            fields={"team": provider_account_id},
            update_connection_id=None,
        )
        assert saved is not None
        return saved.id

    workspace_a = await save("T-AAA")
    workspace_b = await save("T-BBB")
    assert workspace_a != workspace_b
    assert await save("T-AAA") == workspace_a  # reconnecting workspace A
    assert await pool.fetchval("SELECT count(*) FROM connections") == 2


async def test_a_config_pins_a_connection_of_its_account_and_app(
    acme: Api, globex: Api, pool: db.Pool
) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": USER})
    older = await connect_sandbox(acme)
    await connect_sandbox(acme)  # a newer one: pinning picks the older all the same
    someone_else = await connect_sandbox(acme, "user_other")
    await acme.call("PUT", "/v1/apps/sandbox_apikey", {"enabled": True})
    other_app = await acme.call(
        "POST",
        "/v1/connections",
        {"linked_account_id": USER, "app": "sandbox_apikey", "fields": {"api_key": "k-123"}},
    )
    assert other_app.status == 201, other_app.body
    config = await acme.call("POST", "/v1/configs", {"linked_account_id": USER, "app": "sandbox"})
    path = f"/v1/configs/{config.body['id']}"
    assert config.body["connection_id"] is None

    for wrong in (someone_else, other_app.body["id"], str(uuid.uuid4())):
        refused = await acme.call("PUT", path, {"connection_id": wrong})
        assert refused.status == 422, refused.body
        assert refused.body["error"]["field"] == "connection_id"

    pinned = await acme.call("PUT", path, {"connection_id": older})
    assert pinned.status == 200, pinned.body
    assert pinned.body["connection_id"] == older
    kept = await acme.call("PUT", path, {"fields": {}})
    assert kept.body["connection_id"] == older  # not given: unchanged
    unpinned = await acme.call("PUT", path, {"connection_id": None})
    assert unpinned.body["connection_id"] is None

    # Another tenant cannot pin acme's connection, nor see acme's config.
    assert (await globex.call("PUT", path, {"connection_id": older})).status == 404


async def test_fan_out_uses_the_pinned_connection_else_the_newest_active(
    acme: Api, pool: db.Pool
) -> None:
    older = await connect_sandbox(acme)
    newer = await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow_id = await create_workflow(acme)
    config_id = await enable(acme, USER, workflow_id)
    settings = worker_settings(acme)

    async def used_connection() -> str:
        event_id = await send(acme)
        assert (await run_queued(settings))[1:] == (0, 0)
        event = await acme.call("GET", f"/v1/events/{event_id}")
        [execution] = event.body["executions"]
        assert execution["status"] == "succeeded", execution
        one = await acme.call("GET", f"/v1/executions/{execution['id']}")
        connection_id: str = one.body["connection_id"]
        return connection_id

    assert await used_connection() == newer

    pinned = await acme.call("PUT", f"/v1/configs/{config_id}", {"connection_id": older})
    assert pinned.status == 200, pinned.body
    assert await used_connection() == older
    calls = await acme.call("GET", f"/v1/connections/{older}/sandbox/calls")
    assert [c["method"] for c in calls.body["data"]] == ["POST"]  # made with its tokens

    # A pinned connection that needs re-authorising runs nothing (not another connection).
    await pool.execute(
        "UPDATE connections SET status = 'needs_reauth' WHERE id = $1", uuid.UUID(older)
    )
    event_id = await send(acme)
    await run_queued(settings)
    assert (await acme.call("GET", f"/v1/events/{event_id}")).body["executions"] == []

    # Deleting the pinned connection unpins the config: the newest active one runs again.
    assert (await acme.call("DELETE", f"/v1/connections/{older}")).status == 200
    config = await acme.call("GET", f"/v1/configs/{config_id}")
    assert config.body["connection_id"] is None
    assert await used_connection() == newer


async def test_gocobalt_face_shows_one_connection_per_app_the_newest(
    acme: Api, pool: db.Pool
) -> None:
    await connect_sandbox(acme)
    await connect_sandbox(acme)
    cobalt = {"x-api-key": acme.credentials.api_key, "linked_account_id": USER}
    one = await acme.call("GET", "/api/v2/public/application/sandbox", auth="none", headers=cobalt)
    assert one.status == 200, one.body
    assert len(one.body["connected_accounts"]) == 1
    account = await acme.call(
        "GET", f"/api/v2/public/linked-account/{USER}", auth="none", headers=cobalt
    )
    assert [i["type"] for i in account.body["integrations"]] == ["sandbox"]

    # Saving key credentials again replaces those of the one connection gocobalt shows.
    for key in ("k-1", "k-2"):
        saved = await acme.call(
            "PUT",
            "/api/v2/public/linked-account/integration/save-key-credentials/sandbox_apikey",
            {"api_key": key},
            auth="none",
            headers=cobalt,
        )
        assert saved.body == {"success": True}
    count = await pool.fetchval("SELECT count(*) FROM connections WHERE app = 'sandbox_apikey'")
    assert count == 1


def _defaults_file(tmp_path: Path, client_id: str) -> str:
    path = tmp_path / "oauth-defaults.toml"
    path.write_text(
        f'[sandbox]\nclient_id = "{client_id}"\nclient_secret = "operator-s3cret"\n'
        'scopes = ["contacts.read"]\n'
    )
    return str(path)


async def test_operator_default_oauth_client_is_used_unless_the_tenant_has_its_own(
    make_client: AppFactory, pool: db.Pool, tmp_path: Path
) -> None:
    from shared.clients import store as clients

    http = await make_client(oauth_defaults_file=_defaults_file(tmp_path, "operator-client"))
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    apps = await acme.call("GET", "/v1/catalog")
    by_slug = {a["slug"]: a for a in apps.body["data"]}
    assert by_slug["sandbox"]["oauth_client_source"] == "operator"
    assert by_slug["sandbox_apikey"]["oauth_client_source"] is None

    browser = Browser(str(http.make_url("/")))
    try:
        picker = await open_link(browser, await link_token(acme))
        to_provider = await browser.post(
            "/link/session/apps/sandbox", {"csrf": picker.hidden_fields()["csrf"]}
        )
        assert to_provider.query["client_id"] == "operator-client"
        assert to_provider.query["scope"] == "contacts.read"
        assert to_provider.query["redirect_uri"] == str(http.make_url(CALLBACK_PATH))

        own = await acme.call(
            "PUT",
            "/v1/apps/sandbox",
            {"oauth_client_id": "acme-own-client", "oauth_client_secret": "acme-s3cret"},
        )
        assert own.status == 200
        assert own.body["oauth_client_source"] == "own"
        picker = await open_link(browser, await link_token(acme))
        to_provider = await browser.post(
            "/link/session/apps/sandbox", {"csrf": picker.hidden_fields()["csrf"]}
        )
        assert to_provider.query["client_id"] == "acme-own-client"
    finally:
        await browser.close()


async def test_without_operator_defaults_the_builtin_client_is_used(acme: Api) -> None:
    settings = acme.http.app[RESOURCES].settings
    assert settings.oauth_defaults_file == ""
    apps = await acme.call("GET", "/v1/apps")
    sandbox = {a["slug"]: a for a in apps.body["data"]}["sandbox"]
    assert sandbox["oauth_client_source"] == "builtin"
