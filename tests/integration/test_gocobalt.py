"""The gocobalt face: its public backend API under /api/v2/public, called as the seed
documents and its reference lists, answering gocobalt's shapes and error shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.helpers import Api, Reply
from tests.link_browser import Browser, sign_in
from tests.workflow_fixtures import (
    CREATE_CONTACT_WORKFLOW,
    connect_sandbox,
    create_workflow,
    run_queued,
    worker_settings,
)

API = "/api/v2/public"
NEW_CONTACT = "New Contact Created"
ERROR_KEYS = {"status_code", "http_error_type", "error_code", "error", "message", "request_id"}


async def cobalt(
    api: Api,
    method: str,
    path: str,
    json: Any = None,
    *,
    account: str | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """A call as gocobalt's clients make it: ``x-api-key`` (lower case, as its docs write it)
    plus a ``linked_account_id`` header, or a session token as Bearer."""
    sent = {"Authorization": f"Bearer {token}"} if token else {"x-api-key": api.credentials.api_key}
    if account is not None:
        sent["linked_account_id"] = account
    return await api.call(
        method, API + path, json, auth="none", headers={**sent, **(headers or {})}
    )


def assert_cobalt_error(reply: Reply, status: int, error_code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.body.keys() >= ERROR_KEYS, reply.body
    assert reply.body["status_code"] == status
    assert reply.body["error_code"] == reply.body["error"] == error_code, reply.body
    assert reply.body["request_id"] == reply.headers["X-Request-ID"]


async def connect_through_auth_url(api: Api, auth_url: str) -> None:
    """What the end user does with an ``auth_url``: the hosted page opens the app (one click
    to continue, where the page does not go straight on), then the sandbox's sign-in."""
    browser = Browser(str(api.http.make_url("/")))
    try:
        page = await browser.follow(await browser.get(auth_url))
        if page.url.endswith("/link/session/apps/sandbox"):
            to_provider = await browser.post("/link/session/apps/sandbox", page.hidden_fields())
            assert to_provider.location is not None
            page = await browser.get(to_provider.location)
        assert "/sandbox/oauth/authorize?" in page.url, page.url
        back = await sign_in(browser, page)
        assert back.status == 303
        done = await browser.follow(back)
        assert done.status == 200
    finally:
        await browser.close()


async def test_getting_started_seed_from_linked_account_to_hosted_url(acme: Api) -> None:
    # Step 3 of the seed: create a linked account (its header is spelt X-API-Key there).
    created = await acme.call(
        "POST",
        f"{API}/linked-account",
        {"linked_account_id": "Test2", "name": "Test account 2"},
        auth="none",
        headers={"X-API-Key": acme.credentials.api_key},
    )
    assert created.status == 200, created.body
    assert created.body["account_id"] == created.body["_id"] == "Test2"
    assert created.body["name"] == "Test account 2"
    assert created.body["environment"] == "test"
    assert created.body["udf"] == []
    assert created.body["__v"] == 0
    assert {"associated_org", "createdAt", "updatedAt"} <= created.body.keys()
    # Step 4: a session token, with x-api-key in lower case.
    session = await cobalt(acme, "POST", "/session-token", {"linked_account_id": "Test2"})
    assert session.status == 200, session.body
    assert session.body["token"].startswith("st_")
    assert session.body["expires_in"] == 86400
    # Step 5: the hosted Connect URL with the session token.
    hosted = await cobalt(
        acme,
        "POST",
        "/connect-url",
        {"color": "#000000", "name": "Jon Snow"},
        token=session.body["token"],
    )
    assert hosted.status == 200, hosted.body
    assert "/link?token=lt_" in hosted.body["hosted_url"]
    browser = Browser(str(acme.http.make_url("/")))
    try:
        page = await browser.follow(await browser.get(hosted.body["hosted_url"]))
    finally:
        await browser.close()
    assert page.status == 200
    assert "Jon Snow" in page.text


async def test_linked_accounts_create_upsert_list_get_delete(acme: Api) -> None:
    for i in range(3):
        made = await cobalt(
            acme, "POST", "/linked-account", {"account_id": f"acct-{i}", "udf": {"plan": "pro"}}
        )
        assert made.status == 200
        assert made.body["udf"] == [{"key_name": "plan", "key_value": "pro"}]
    flat = await cobalt(
        acme, "PUT", "/linked-account", {"linked_account_id": "acct-0", "name": "Zero"}
    )
    assert flat.body["name"] == "Zero"
    assert flat.body["udf"] == [{"key_name": "plan", "key_value": "pro"}]  # not given: kept
    nested = await cobalt(
        acme,
        "PUT",
        "/linked-account",
        {"linked_account_id": "acct-9", "payload": {"name": "Nine", "udf": {"k": "v"}}},
    )
    assert (nested.body["account_id"], nested.body["name"]) == ("acct-9", "Nine")
    page = await cobalt(acme, "GET", "/linked-account?page=2&limit=3")
    assert page.status == 200, page.body
    assert [d["account_id"] for d in page.body["docs"]] == ["acct-9"]
    assert {k: v for k, v in page.body.items() if k != "docs"} == {
        "totalDocs": 4,
        "limit": 3,
        "page": 2,
        "totalPages": 2,
        "pagingCounter": 4,
        "hasPrevPage": True,
        "hasNextPage": False,
        "prevPage": 1,
        "nextPage": None,
    }
    one = await cobalt(acme, "GET", "/linked-account/acct-9")
    assert one.body["integrations"] == []
    gone = await cobalt(acme, "DELETE", "/linked-account/acct-9")
    assert gone.body == {"message": "User deleted successfully"}
    assert_cobalt_error(
        await cobalt(acme, "GET", "/linked-account/acct-9"), 404, "RESOURCE_NOT_FOUND"
    )
    refused = await cobalt(
        acme, "POST", "/linked-account", {"linked_account_id": "x", "your_app": {}}
    )
    assert_cobalt_error(refused, 400, "SERVER_ERROR")
    assert refused.body["field"] == "your_app"


async def test_session_token_sees_only_its_own_account(acme: Api) -> None:
    for account in ("alice", "bob"):
        await cobalt(acme, "POST", "/linked-account", {"linked_account_id": account})
    token = (await cobalt(acme, "POST", "/session-token", {"linked_account_id": "alice"})).body[
        "token"
    ]
    mine = await cobalt(acme, "GET", "/session/active-linked-account", token=token)
    assert mine.body["account_id"] == "alice"
    # The header a session sends is ignored: the token names the account.
    apps = await cobalt(acme, "GET", "/application", token=token, account="bob")
    assert apps.status == 200
    assert_cobalt_error(
        await cobalt(acme, "GET", "/linked-account/bob", token=token), 404, "RESOURCE_NOT_FOUND"
    )
    # Server-only routes refuse a session token, in gocobalt's shape.
    assert_cobalt_error(
        await cobalt(acme, "GET", "/linked-account", token=token), 403, "SERVER_ERROR"
    )
    assert_cobalt_error(
        await cobalt(acme, "POST", "/session-token", {"linked_account_id": "bob"}, token=token),
        403,
        "SERVER_ERROR",
    )


async def test_applications_and_connecting_through_the_oauth_url(acme: Api) -> None:
    await cobalt(acme, "POST", "/linked-account", {"linked_account_id": "user_12345"})
    listed = await cobalt(acme, "GET", "/application", account="user_12345")
    assert listed.status == 200, listed.body
    by_slug = {a["slug"]: a for a in listed.body}
    assert set(by_slug) == {"sandbox", "sandbox_apikey"}  # enabled in test by default
    sandbox = by_slug["sandbox"]
    assert sandbox["auth_type"] == "oauth2"
    assert sandbox["connected"] is False
    assert sandbox["connected_accounts"] == []
    assert sandbox["icon"].endswith("/static/logos/sandbox.svg")
    assert sandbox["_id"] == sandbox["app_id"] == sandbox["type"] == "sandbox"
    keybased = by_slug["sandbox_apikey"]
    assert keybased["auth_type"] == "keybased"
    assert keybased["auth_input_map"] == [
        {
            "name": "api_key",
            "label": "API key",
            "type": "password",
            "required": True,
            "placeholder": "",
        }
    ]
    only_oauth = await cobalt(acme, "GET", "/application?auth_type=oauth2", account="user_12345")
    assert [a["slug"] for a in only_oauth.body] == ["sandbox"]

    oauth = await cobalt(
        acme, "GET", "/linked-account/integration/oauth-url/sandbox", account="user_12345"
    )
    assert oauth.status == 200, oauth.body
    await connect_through_auth_url(acme, oauth.body["auth_url"])

    one = await cobalt(acme, "GET", "/application/sandbox", account="user_12345")
    assert one.body["connected"] is True
    assert one.body["reauth_required"] is False
    [account] = one.body["connected_accounts"]
    assert (account["auth_type"], account["status"]) == ("oauth2", "active")
    with_integrations = await cobalt(acme, "GET", "/linked-account/user_12345")
    [integration] = with_integrations.body["integrations"]
    assert (integration["type"], integration["status"]) == ("sandbox", "active")

    saved = await cobalt(
        acme,
        "PUT",
        "/linked-account/integration/save-key-credentials/sandbox_apikey",
        {"api_key": "k-123"},
        account="user_12345",
    )
    assert saved.body == {"success": True}
    missing = await cobalt(
        acme,
        "PUT",
        "/linked-account/integration/save-key-credentials/sandbox_apikey",
        {},
        account="user_12345",
    )
    assert_cobalt_error(missing, 400, "SERVER_ERROR")
    assert missing.body["field"] == "api_key"

    hook = await acme.call(
        "POST",
        "/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/linkport", "event_types": ["connection.deleted"]},
    )
    assert hook.status == 201, hook.body
    removed = await cobalt(
        acme, "DELETE", "/linked-account/integration/sandbox?linked_account_id=user_12345"
    )
    assert removed.status == 200
    assert [i["type"] for i in removed.body["integrations"]] == ["sandbox_apikey"]
    log = await acme.call("GET", "/v1/webhook-events", params={"type": "connection.deleted"})
    assert [e["payload"]["data"]["app"] for e in log.body["data"]] == ["sandbox"]  # announced
    after = await cobalt(acme, "GET", "/application/sandbox", account="user_12345")
    assert after.body["connected"] is False

    assert_cobalt_error(
        await cobalt(acme, "GET", "/application/hubspot", account="user_12345"),
        404,
        "RESOURCE_NOT_FOUND",
    )
    assert_cobalt_error(await cobalt(acme, "GET", "/application"), 400, "INVALID_LINKED_ACCOUNT_ID")
    assert_cobalt_error(
        await cobalt(acme, "GET", "/application", account="ghost"), 404, "INVALID_LINKED_ACCOUNT_ID"
    )


async def _contact_workflow(api: Api) -> str:
    """A workflow on the event named with spaces, as gocobalt's docs name events."""
    defined = await api.call(
        "POST",
        "/v1/event-definitions",
        {"name": NEW_CONTACT, "sample": {"email": "ada@example.com", "first": "Ada", "last": "L"}},
    )
    assert defined.status == 201, defined.body
    shown = await api.call("GET", f"/v1/event-definitions/{quote(NEW_CONTACT)}")
    assert shown.status == 200
    assert shown.body["data"][0]["name"] == NEW_CONTACT
    return await create_workflow(
        api, {**CREATE_CONTACT_WORKFLOW, "trigger": {"event": NEW_CONTACT}}
    )


async def test_config_find_update_get_delete(acme: Api) -> None:
    await cobalt(acme, "POST", "/linked-account", {"linked_account_id": "user_12345"})
    workflow_id = await _contact_workflow(acme)
    found = await cobalt(
        acme,
        "POST",
        "/config",
        {"slug": "sandbox", "config_id": "user_12345", "labels": {"yourApp_fields": []}},
        account="user_12345",
    )
    assert found.status == 200, found.body
    assert found.body["slug"] == "sandbox"
    assert found.body["config_id"] == "user_12345"
    assert found.body["fields"] == []
    assert found.body["field_errors"] == []
    [workflow] = found.body["workflows"]
    assert workflow["id"] == workflow_id
    assert workflow["enabled"] is False
    assert workflow["fields"][0] | {"options": None} == {
        "id": "source",
        "name": "Lead source",
        "field_type": "text",
        "required": False,
        "options": None,
        "labels": [],
        "multiple": False,
        "hidden": False,
        "value": "app",
        "defaultValue": "app",
    }
    # The 2023 reference's update: fields by id, workflows with enabled and their fields.
    updated = await cobalt(
        acme,
        "PUT",
        "/config",
        {
            "slug": "sandbox",
            "config_id": "user_12345",
            "fields": {},
            "workflows": [{"id": workflow_id, "enabled": True, "fields": {"source": "crm"}}],
        },
        account="user_12345",
    )
    assert updated.status == 200, updated.body
    [workflow] = updated.body["workflows"]
    assert workflow["enabled"] is True
    assert workflow["fields"][0]["value"] == "crm"
    got = await cobalt(acme, "GET", "/slug/sandbox/config/user_12345", account="user_12345")
    assert got.body == updated.body
    assert_cobalt_error(
        await cobalt(acme, "GET", "/slug/sandbox/config", account="user_12345"),
        404,
        "RESOURCE_NOT_FOUND",
    )
    bad = await cobalt(
        acme,
        "PUT",
        "/config",
        {"slug": "sandbox", "config_id": "user_12345", "fields": {"nope": 1}},
        account="user_12345",
    )
    assert_cobalt_error(bad, 400, "SERVER_ERROR")
    assert bad.body["field"] == "fields.nope"
    deleted = await cobalt(acme, "DELETE", "/slug/sandbox/config/user_12345", account="user_12345")
    assert deleted.body == {"message": "Installation Deleted Success"}
    assert_cobalt_error(
        await cobalt(acme, "GET", "/slug/sandbox/config/user_12345", account="user_12345"),
        404,
        "RESOURCE_NOT_FOUND",
    )


async def test_an_event_named_with_spaces_runs_its_workflow(acme: Api) -> None:
    connection_id = await connect_sandbox(acme)  # user_12345, through the hosted Link flow
    workflow_id = await _contact_workflow(acme)
    enabled = await cobalt(
        acme,
        "PUT",
        "/config",
        {"slug": "sandbox", "workflows": [{"id": workflow_id, "enabled": True}]},
        account="user_12345",
    )
    assert enabled.status == 200, enabled.body
    # The 2023 reference's request: x-api-key, linked_account_id and config_id headers.
    fired = await cobalt(
        acme,
        "POST",
        "/event",
        {
            "event": NEW_CONTACT,
            "payload": {"email": "grace@example.com", "first": "Grace", "last": "H"},
        },
        account="user_12345",
        headers={"config_id": "default"},
    )
    assert fired.status == 200, fired.body
    assert fired.body["message"] == "Webhook Fired Success"
    await run_queued(worker_settings(acme))

    listed = await cobalt(acme, "GET", "/execution?page=1&limit=5", account="user_12345")
    assert listed.status == 200, listed.body
    assert listed.body["totalDocs"] == 1
    [execution] = listed.body["docs"]
    assert execution["status"] == "COMPLETED"
    assert execution["name"] == CREATE_CONTACT_WORKFLOW["name"]
    assert execution["associated_workflow"]["_id"] == workflow_id
    assert execution["associated_application"]["_id"] == "sandbox"
    assert execution["associated_event_id"] == fired.body["event_id"]
    assert execution["config_id"] == "default"
    assert execution["environment"] == "test"
    one = await cobalt(acme, "GET", f"/execution/{execution['_id']}", account="user_12345")
    [node] = one.body["nodes"]
    assert node["node_id"] == "create"
    assert node["status"] == "SUCCEEDED"
    assert node["input"]["email"] == "grace@example.com"
    calls = await acme.call("GET", f"/v1/connections/{connection_id}/sandbox/calls")
    assert [c["path"] for c in calls.body["data"]] == ["/contacts"]
    # The 2023 plural path, and the filters.
    plural = await cobalt(acme, "GET", "/executions?status=COMPLETED", account="user_12345")
    assert plural.body["totalDocs"] == 1
    errored = await cobalt(acme, "GET", "/execution?status=ERRORED&slug=sandbox")
    assert errored.body["docs"] == []

    # The same event by its current path (event/trigger, "trigger" spelling) and the slug path.
    for path, body in [
        (
            "/event/trigger",
            {"trigger": NEW_CONTACT, "payload": {"email": "a@b.c", "first": "A", "last": "B"}},
        ),
        (
            "/event/sandbox",
            {"event": NEW_CONTACT, "payload": '{"email": "d@e.f", "first": "D", "last": "E"}'},
        ),
    ]:
        again = await cobalt(acme, "POST", path, body, account="user_12345")
        assert again.status == 200, (path, again.body)
    await run_queued(worker_settings(acme))
    done = await cobalt(acme, "GET", "/execution?status=COMPLETED", account="user_12345")
    assert done.body["totalDocs"] == 3

    unknown = await cobalt(
        acme, "POST", "/event", {"event": "Wrong Event", "payload": {}}, account="user_12345"
    )
    assert_cobalt_error(unknown, 404, "INVALID_EVENT")
    no_account = await cobalt(acme, "POST", "/event", {"event": NEW_CONTACT, "payload": {}})
    assert_cobalt_error(no_account, 400, "INVALID_LINKED_ACCOUNT_ID")
    bad_name = await cobalt(
        acme, "POST", "/event", {"event": "line\nbreak", "payload": {}}, account="user_12345"
    )
    assert_cobalt_error(bad_name, 400, "SERVER_ERROR")
    unknown_app = await cobalt(
        acme, "POST", "/event/nope", {"event": NEW_CONTACT, "payload": {}}, account="user_12345"
    )
    assert_cobalt_error(unknown_app, 404, "RESOURCE_NOT_FOUND")


async def test_rerun_a_failed_execution(acme: Api) -> None:
    connection_id = await connect_sandbox(acme)
    workflow_id = await _contact_workflow(acme)
    await cobalt(
        acme,
        "PUT",
        "/config",
        {"slug": "sandbox", "workflows": [{"id": workflow_id, "enabled": True}]},
        account="user_12345",
    )
    await acme.call(
        "PUT",
        f"/v1/connections/{connection_id}/sandbox/fault",
        {"fault": "server_error", "count": 1},
    )
    payload = {"email": "grace@example.com", "first": "Grace", "last": "H"}
    await cobalt(
        acme, "POST", "/event", {"event": NEW_CONTACT, "payload": payload}, account="user_12345"
    )
    await run_queued(worker_settings(acme, execution_max_attempts=1))
    [failed] = (await cobalt(acme, "GET", "/execution", account="user_12345")).body["docs"]
    assert (failed["status"], failed["linkport_status"]) == ("ERRORED", "failed")

    token = (
        await cobalt(acme, "POST", "/session-token", {"linked_account_id": "user_12345"})
    ).body["token"]
    rerun = await cobalt(acme, "POST", f"/execution/{failed['_id']}/rerun", token=token)
    assert rerun.status == 200, rerun.body
    assert rerun.body["id"] == rerun.body["instanceId"] == failed["_id"]
    await run_queued(worker_settings(acme))
    done = await cobalt(acme, "GET", f"/execution/{failed['_id']}", token=token)
    assert done.body["status"] == "COMPLETED"
    assert_cobalt_error(
        await cobalt(acme, "POST", f"/execution/{failed['_id']}/rerun", token=token),
        409,
        "SERVER_ERROR",
    )
    assert_cobalt_error(
        await cobalt(acme, "GET", "/execution/not-an-id", token=token), 404, "RESOURCE_NOT_FOUND"
    )


async def test_credentials_and_what_is_not_offered(acme: Api, globex: Api) -> None:
    wrong = await acme.call(
        "GET", f"{API}/application", auth="none", headers={"x-api-key": "sk_test_wrong"}
    )
    assert_cobalt_error(wrong, 401, "SERVER_ERROR")
    assert wrong.body["http_error_type"] == "UNAUTHORIZED"
    # Another tenant's account is not there.
    await cobalt(acme, "POST", "/linked-account", {"linked_account_id": "shared-name"})
    assert_cobalt_error(
        await cobalt(globex, "GET", "/linked-account/shared-name"), 404, "RESOURCE_NOT_FOUND"
    )


async def test_openapi_documents_each_face_under_its_own_tag(acme: Api) -> None:
    spec = await (await acme.http.get("/openapi.json")).json()
    tags = {path: {op["tags"][0] for op in ops.values()} for path, ops in spec["paths"].items()}
    assert tags[f"{API}/linked-account"] == {"gocobalt"}
    assert tags[f"{API}/execution"] == {"gocobalt"}
    assert tags["/api/v2/f-sdk/application/{slug}"] == {"cobalt-js"}
    assert tags["/api/v1/{slug}/integrate"] == {"cobalt-js"}
    default = spec["paths"][f"{API}/event"]["post"]["responses"]["default"]
    assert default["content"]["application/json"]["schema"]["$ref"].endswith("/CobaltError")
    native = spec["paths"]["/v1/events"]["post"]["responses"]["default"]
    assert native["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
