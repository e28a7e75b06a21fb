"""Workflows are checked whole on save; configs hold field values and enabled workflows."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.helpers import Api
from tests.workflow_fixtures import CREATE_CONTACT_WORKFLOW, create_workflow, define_contact_event


def _with(change: dict[str, Any]) -> dict[str, Any]:
    workflow = copy.deepcopy(CREATE_CONTACT_WORKFLOW)
    step = workflow["steps"][0]
    for key, value in change.items():
        if key.startswith("step."):
            step[key.removeprefix("step.")] = value
        else:
            workflow[key] = value
    return workflow


async def test_workflow_crud(acme: Api, globex: Api) -> None:
    await define_contact_event(acme)
    workflow_id = await create_workflow(acme)
    got = await acme.call("GET", f"/v1/workflows/{workflow_id}")
    assert got.body["trigger"] == {"event": "contact.created"}
    assert got.body["steps"][0]["action"] == "sandbox.create_contact"
    replaced = await acme.call("PUT", f"/v1/workflows/{workflow_id}", _with({"name": "Renamed"}))
    assert replaced.status == 200
    assert replaced.body["name"] == "Renamed"
    assert [w["id"] for w in (await acme.call("GET", "/v1/workflows")).body["data"]] == [
        workflow_id
    ]
    assert (await globex.call("GET", f"/v1/workflows/{workflow_id}")).status == 404
    assert (await globex.call("PUT", f"/v1/workflows/{workflow_id}", _with({}))).status in (
        404,
        422,
    )
    assert (await acme.call("DELETE", f"/v1/workflows/{workflow_id}")).status == 200
    assert (await acme.call("GET", f"/v1/workflows/{workflow_id}")).status == 404


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"step.action": "sandbox.teleport"}, "steps.0.action", "unknown action"),
        ({"step.action": "nope"}, "steps.0.action", "String should match"),
        (
            {"step.input": {"name": "x"}},
            "steps.0.input.email",
            "required by sandbox.create_contact",
        ),
        ({"step.input": {"email": "{{ event.email "}}, "steps.0.input.email", "syntax"),
        (
            {"step.input": {"email": "{{ steps.later.id }}"}},
            "steps.0.input.email",
            "does not run before",
        ),
        ({"step.input": {"email": "{{ secrets.key }}"}}, "steps.0.input.email", "unknown name"),
        ({"step.input": {"email": "{{ config.nope }}"}}, "steps.0.input.email", "does not declare"),
        ({"step.when": "event.vip ==="}, "steps.0.when", "syntax"),
        ({"trigger": {"event": "never.defined"}}, "trigger.event", "not found"),
        ({"app": "teleporter"}, "app", "unknown app"),
        (
            {"fields": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}]},
            "fields.1.key",
            "declared twice",
        ),
        (
            {"fields": [{"key": "a", "label": "A", "type": "select"}]},
            "fields.0.options",
            "needs options",
        ),
        (
            {"fields": [{"key": "a", "label": "A", "type": "number", "default": "x"}]},
            "fields.0.default",
            "number",
        ),
        ({"steps": []}, "steps", "at least 1"),
    ],
)
async def test_bad_workflows_are_422_naming_the_field(
    acme: Api, change: dict[str, Any], field: str, words: str
) -> None:
    await define_contact_event(acme)
    reply = await acme.call("POST", "/v1/workflows", _with(change))
    assert reply.status in (404, 422), reply.body
    assert reply.body["error"]["field"] == field
    assert words in reply.body["error"]["message"]
    assert (await acme.call("GET", "/v1/workflows")).body["data"] == []


async def test_generic_http_action_and_step_references_are_accepted(acme: Api) -> None:
    await define_contact_event(acme)
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            CREATE_CONTACT_WORKFLOW["steps"][0],
            {
                "id": "notify",
                "action": "http.request",
                "when": "event.vip",
                "input": {
                    "url": "https://hooks.example.com/x",
                    "json": {"contact": "{{ steps.create.id }}"},
                },
            },
        ],
    }
    assert (await acme.call("POST", "/v1/workflows", workflow)).status == 201
    duplicate = {
        **workflow,
        "steps": [workflow["steps"][0], {**workflow["steps"][1], "id": "create"}],
    }
    reply = await acme.call("POST", "/v1/workflows", duplicate)
    assert reply.body["error"]["field"] == "steps.1.id"


async def test_configs_find_or_create_and_validate_fields(acme: Api, globex: Api) -> None:
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "u1"})
    await define_contact_event(acme)
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "fields": [
            {"key": "source", "label": "Source", "type": "text", "default": "app"},
            {
                "key": "owner",
                "label": "Owner",
                "type": "select",
                "options": ["ann", "bob"],
                "required": True,
            },
        ],
    }
    workflow_id = await create_workflow(acme, workflow)
    created = await acme.call("POST", "/v1/configs", {"linked_account_id": "u1", "app": "sandbox"})
    assert created.status == 201
    assert created.body["config_id"] == "default"
    assert created.body["workflows"][0]["fields"][1]["options"] == ["ann", "bob"]
    found = await acme.call("POST", "/v1/configs", {"linked_account_id": "u1", "app": "sandbox"})
    assert found.status == 200
    assert found.body["id"] == created.body["id"]
    path = f"/v1/configs/{created.body['id']}"

    missing_required = await acme.call("PUT", path, {"enabled_workflows": [workflow_id]})
    assert missing_required.status == 422
    assert missing_required.body["error"]["field"] == "fields.owner"
    bad_option = await acme.call(
        "PUT", path, {"enabled_workflows": [workflow_id], "fields": {"owner": "eve"}}
    )
    assert bad_option.body["error"]["field"] == "fields.owner"
    unknown_field = await acme.call("PUT", path, {"fields": {"colour": "red"}})
    assert unknown_field.body["error"]["field"] == "fields.colour"
    unknown_workflow = await acme.call(
        "PUT", path, {"enabled_workflows": ["00000000-0000-0000-0000-000000000000"]}
    )
    assert unknown_workflow.body["error"]["field"] == "enabled_workflows.0"
    saved = await acme.call(
        "PUT", path, {"enabled_workflows": [workflow_id], "fields": {"owner": "ann"}}
    )
    assert saved.status == 200
    assert saved.body["enabled_workflows"] == [workflow_id]
    assert saved.body["workflows"][0]["enabled"] is True
    assert (await globex.call("GET", path)).status == 404
    assert (
        await acme.call("POST", "/v1/configs", {"linked_account_id": "ghost", "app": "sandbox"})
    ).status == 404
    assert (
        await acme.call("POST", "/v1/configs", {"linked_account_id": "u1", "app": "nope"})
    ).status == 422
    assert (await acme.call("DELETE", path)).status == 200
    assert (await acme.call("GET", path)).status == 404


async def test_a_frontend_edits_only_its_own_config(acme: Api) -> None:
    for account in ("mine", "theirs"):
        await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": account})
    token = (await acme.call("POST", "/v1/session-tokens", {"linked_account_id": "mine"})).body[
        "token"
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    mine = await acme.call("POST", "/v1/configs", {"app": "sandbox"}, auth="none", headers=bearer)
    assert mine.status == 201
    assert mine.body["linked_account_id"] == "mine"
    theirs = await acme.call(
        "POST", "/v1/configs", {"linked_account_id": "theirs", "app": "sandbox"}
    )
    path = f"/v1/configs/{theirs.body['id']}"
    assert (await acme.call("GET", path, auth="none", headers=bearer)).status == 404
    assert (await acme.call("PUT", path, {"fields": {}}, auth="none", headers=bearer)).status == 404
    assert (await acme.call("DELETE", path, auth="none", headers=bearer)).status == 404
    as_other = await acme.call(
        "POST",
        "/v1/configs",
        {"linked_account_id": "theirs", "app": "sandbox"},
        auth="none",
        headers=bearer,
    )
    assert as_other.status == 404
    own_path = f"/v1/configs/{mine.body['id']}"
    assert (
        await acme.call("PUT", own_path, {"fields": {}}, auth="none", headers=bearer)
    ).status == 200
