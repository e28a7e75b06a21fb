"""Slack, Microsoft Teams, Google Sheets, Notion, Airtable and GitHub actions against fakes of
their APIs (tests/fakes/apps): each action sends the provider's documented request (method,
path, payload, credentials) and returns the useful part of its documented answer; provider
errors become ActionErrors (unauthorized, fatal with the provider's message, retryable)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.connectors import ACTIONS
from shared.infra.outbound import OutboundClient
from tests.app_fixtures import (
    Connect,
    action_failure,
    connector,
    input_rejection,
    last_call,
    refused_failure,
    run_action,
    start_app_apis,
)
from tests.fakes import StartFake
from tests.fakes.apps import AppApis

SLUGS = ["slack", "microsoft_teams", "google_sheets", "notion", "airtable", "github"]
TOKEN = "good-access-token"


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """Every app of this group faked on one server, each accepting TOKEN."""
    return await start_app_apis(start_fake, slugs=SLUGS, credentials=[TOKEN])


@pytest.fixture
def connect(apis: AppApis, loopback_allowed: OutboundClient) -> Connect:
    """Connections to the fakes, holding TOKEN."""
    return connector(apis=apis, client=loopback_allowed, token=TOKEN)


# --- Slack -------------------------------------------------------------------------------


async def test_slack_post_message_posts_json_with_the_bot_token(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("slack")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deal won*"}}]
    out = await run_action(
        "slack.post_message",
        ctx=ctx,
        given={"channel": "#general", "text": "Deal won", "blocks": blocks},
    )
    call = last_call(apis.apps["slack"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/api/chat.postMessage")
    assert call.body == {"channel": "#general", "text": "Deal won", "blocks": blocks}
    assert out["channel"] == "C0GENERAL1"  # Slack answers with the channel's id
    assert out["ts"]
    assert out["message"]["text"] == "Deal won"
    assert apis.apps["slack"].data["messages"][-1]["channel"] == "C0GENERAL1"


async def test_slack_errors_answered_with_http_200_become_action_errors(
    apis: AppApis, connect: Connect
) -> None:
    refused = await refused_failure(
        "slack.post_message",
        connect=connect,
        token="xoxb-revoked",
        given={"channel": "C0GENERAL1", "text": "x"},
        status=200,  # Slack answers errors with HTTP 200 and ok: false
    )
    assert "invalid_auth" in str(refused)

    ctx = connect("slack")
    missing = await action_failure(
        "slack.post_message", ctx=ctx, given={"channel": "#nope", "text": "x"}
    )
    assert (missing.kind, missing.status) == ("fatal", 200)
    assert "channel_not_found" in str(missing)

    apis.apps["slack"].data["rate_limited"] = "30"
    limited = await action_failure(
        "slack.post_message", ctx=ctx, given={"channel": "C0GENERAL1", "text": "x"}
    )
    assert (limited.kind, limited.status, limited.retry_after) == ("retryable", 429, 30.0)


async def test_slack_list_channels_pages_with_the_cursor(apis: AppApis, connect: Connect) -> None:
    ctx = connect("slack")
    first = await run_action("slack.list_channels", ctx=ctx, given={"limit": 1})
    call = last_call(apis.apps["slack"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/api/conversations.list")
    assert call.query == {"types": "public_channel", "exclude_archived": "true", "limit": "1"}
    assert [c["name"] for c in first["channels"]] == ["general"]
    second = await run_action(
        "slack.list_channels", ctx=ctx, given={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert [c["name"] for c in second["channels"]] == ["random"]
    assert second["next_cursor"] is None  # archived and private channels are not listed
    everything = await run_action(
        "slack.list_channels",
        ctx=ctx,
        given={"types": ["public_channel", "private_channel"], "exclude_archived": False},
    )
    assert {c["name"] for c in everything["channels"]} == {
        "general",
        "random",
        "old-stuff",
        "secret",
    }


async def test_slack_lookup_user_by_email(apis: AppApis, connect: Connect) -> None:
    ctx = connect("slack")
    user = await run_action(
        "slack.lookup_user_by_email", ctx=ctx, given={"email": "ada@example.com"}
    )
    call = last_call(apis.apps["slack"])
    assert (call.method, call.path, call.query) == (
        "GET",
        "/api/users.lookupByEmail",
        {"email": "ada@example.com"},
    )
    assert (user["id"], user["real_name"]) == ("U0ADA00001", "Ada Lovelace")
    unknown = await action_failure(
        "slack.lookup_user_by_email", ctx=ctx, given={"email": "bob@example.com"}
    )
    assert unknown.kind == "fatal"
    assert "users_not_found" in str(unknown)


# --- Microsoft Teams (Graph) --------------------------------------------------------------

TEAM_ID = "172b0cce-e65d-44ce-9a49-91d9f2e8493a"
CHANNEL_ID = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"
CHAT_ID = (
    "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces"
)


async def test_teams_send_channel_message_posts_a_graph_chat_message(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("microsoft_teams")
    out = await run_action(
        "microsoft_teams.send_channel_message",
        ctx=ctx,
        given={"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "content": "<b>Deal won</b>"},
    )
    call = last_call(apis.apps["microsoft_teams"], bearer=TOKEN)
    assert call.method == "POST"
    assert call.path == f"/v1.0/teams/{TEAM_ID}/channels/{CHANNEL_ID}/messages"
    assert call.body == {"body": {"contentType": "html", "content": "<b>Deal won</b>"}}
    assert out["id"]
    assert out["body"] == {"contentType": "html", "content": "<b>Deal won</b>"}
    assert out["channelIdentity"] == {"teamId": TEAM_ID, "channelId": CHANNEL_ID}


async def test_teams_send_chat_message_and_list_joined_teams(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("microsoft_teams")
    sent = await run_action(
        "microsoft_teams.send_chat_message",
        ctx=ctx,
        given={"chat_id": CHAT_ID, "content": "hello", "content_type": "text"},
    )
    call = last_call(apis.apps["microsoft_teams"])
    assert (call.method, call.path) == ("POST", f"/v1.0/chats/{CHAT_ID}/messages")
    assert call.body == {"body": {"contentType": "text", "content": "hello"}}
    assert sent["chatId"] == CHAT_ID
    assert sent["body"]["content"] == "hello"

    teams = await run_action("microsoft_teams.list_joined_teams", ctx=ctx, given={})
    call = last_call(apis.apps["microsoft_teams"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/v1.0/me/joinedTeams")
    assert [(t["id"], t["displayName"]) for t in teams["teams"]] == [(TEAM_ID, "Contoso Sales")]


async def test_teams_graph_errors(apis: AppApis, connect: Connect) -> None:
    message = {"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "content": "hi"}
    ctx = connect("microsoft_teams")
    unknown = await action_failure(
        "microsoft_teams.send_channel_message",
        ctx=ctx,
        given={**message, "channel_id": "19:gone@thread.tacv2"},
    )
    assert (unknown.kind, unknown.status) == ("fatal", 404)
    assert "No team or channel found" in str(unknown)

    apis.apps["microsoft_teams"].data["rate_limited"] = "7"
    limited = await action_failure("microsoft_teams.list_joined_teams", ctx=ctx, given={})
    assert (limited.kind, limited.retry_after) == ("retryable", 7.0)


# --- Google Sheets -----------------------------------------------------------------------

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


async def test_sheets_append_row_then_read_it_back(apis: AppApis, connect: Connect) -> None:
    ctx = connect("google_sheets")
    appended = await run_action(
        "google_sheets.append_row",
        ctx=ctx,
        given={"spreadsheet_id": SPREADSHEET_ID, "range": "Sheet1!A:B", "values": ["Grace", 42]},
    )
    call = last_call(apis.apps["google_sheets"], bearer=TOKEN)
    assert call.method == "POST"
    assert call.path == f"/v4/spreadsheets/{SPREADSHEET_ID}/values/Sheet1!A:B:append"
    assert call.query == {"valueInputOption": "USER_ENTERED", "insertDataOption": "INSERT_ROWS"}
    assert call.body == {"range": "Sheet1!A:B", "majorDimension": "ROWS", "values": [["Grace", 42]]}
    assert appended["updates"]["updatedRange"] == "Sheet1!A3:B3"
    assert appended["updates"]["updatedRows"] == 1

    read = await run_action(
        "google_sheets.read_range",
        ctx=ctx,
        given={"spreadsheet_id": SPREADSHEET_ID, "range": "Sheet1!A2:B3"},
    )
    call = last_call(apis.apps["google_sheets"])
    assert (call.method, call.path) == (
        "GET",
        f"/v4/spreadsheets/{SPREADSHEET_ID}/values/Sheet1!A2:B3",
    )
    assert call.query == {"majorDimension": "ROWS", "valueRenderOption": "FORMATTED_VALUE"}
    assert read == {
        "range": "Sheet1!A2:B3",
        "major_dimension": "ROWS",
        "values": [["Ada", "ada@example.com"], ["Grace", 42]],
    }


async def test_sheets_create_spreadsheet_and_use_a_sheet_name_with_a_space(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("google_sheets")
    created = await run_action(
        "google_sheets.create_spreadsheet",
        ctx=ctx,
        given={"title": "Pipeline", "sheet_titles": ["Q1 Leads"]},
    )
    call = last_call(apis.apps["google_sheets"])
    assert (call.method, call.path) == ("POST", "/v4/spreadsheets")
    assert call.body == {
        "properties": {"title": "Pipeline"},
        "sheets": [{"properties": {"title": "Q1 Leads"}}],
    }
    assert created["title"] == "Pipeline"
    assert created["sheets"] == [{"sheet_id": 0, "title": "Q1 Leads"}]
    assert created["spreadsheet_url"].endswith(f"/d/{created['spreadsheet_id']}/edit")

    await run_action(
        "google_sheets.append_row",
        ctx=ctx,
        given={"spreadsheet_id": created["spreadsheet_id"], "range": "'Q1 Leads'", "values": ["x"]},
    )
    assert last_call(apis.apps["google_sheets"]).path.endswith("/values/'Q1 Leads':append")
    read = await run_action(
        "google_sheets.read_range",
        ctx=ctx,
        given={"spreadsheet_id": created["spreadsheet_id"], "range": "'Q1 Leads'!A1:A1"},
    )
    assert read["values"] == [["x"]]


async def test_sheets_google_errors(connect: Connect) -> None:
    row = {"spreadsheet_id": SPREADSHEET_ID, "range": "Nowhere!A1", "values": ["x"]}
    ctx = connect("google_sheets")
    invalid = await action_failure("google_sheets.append_row", ctx=ctx, given=row)
    assert (invalid.kind, invalid.status) == ("fatal", 400)
    assert "Unable to parse range: Nowhere!A1" in str(invalid)
    assert "INVALID_ARGUMENT" in str(invalid)


# --- Notion ------------------------------------------------------------------------------

DATABASE_ID = "d9824bdc-8445-4327-be8b-5b47500af6ce"
PAGE_ID = "59833787-2cf9-4fdf-8782-e53db20768a5"


async def test_notion_create_page_in_a_database_then_query_it(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("notion")
    status = {"select": {"name": "New"}}
    page = await run_action(
        "notion.create_page",
        ctx=ctx,
        given={
            "parent_id": DATABASE_ID.replace("-", ""),
            "title": "Acme Corp",
            "properties": {"Status": status},
            "paragraphs": ["Met at the fair."],
        },
    )
    call = last_call(apis.apps["notion"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/v1/pages")
    assert call.headers["Notion-Version"] == "2022-06-28"
    assert call.body == {
        "parent": {"database_id": DATABASE_ID.replace("-", "")},
        "properties": {
            "Status": status,
            "Name": {"title": [{"type": "text", "text": {"content": "Acme Corp"}}]},
        },
        "children": [
            {
                "object": "block",
                "type": "paragraph",
                "paragraph": {
                    "rich_text": [{"type": "text", "text": {"content": "Met at the fair."}}]
                },
            }
        ],
    }
    assert page["id"]
    assert page["url"].startswith("https://www.notion.so/")
    assert page["parent"] == {"type": "database_id", "database_id": DATABASE_ID}

    found = await run_action(
        "notion.query_database",
        ctx=ctx,
        given={
            "database_id": DATABASE_ID,
            "filter": {"property": "Status", "select": {"equals": "New"}},
            "page_size": 10,
        },
    )
    call = last_call(apis.apps["notion"])
    assert (call.method, call.path) == ("POST", f"/v1/databases/{DATABASE_ID}/query")
    assert call.body == {
        "filter": {"property": "Status", "select": {"equals": "New"}},
        "page_size": 10,
    }
    assert call.headers["Notion-Version"] == "2022-06-28"
    assert [p["id"] for p in found["results"]] == [page["id"]]
    assert (found["next_cursor"], found["has_more"]) == (None, False)


async def test_notion_create_page_below_a_page_and_append_blocks(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("notion")
    page = await run_action(
        "notion.create_page",
        ctx=ctx,
        given={"parent_id": PAGE_ID, "parent_type": "page", "title": "Notes"},
    )
    assert last_call(apis.apps["notion"]).body["properties"] == {
        "title": {"title": [{"type": "text", "text": {"content": "Notes"}}]}
    }
    appended = await run_action(
        "notion.append_blocks",
        ctx=ctx,
        given={"block_id": page["id"], "paragraphs": ["one", "two"]},
    )
    call = last_call(apis.apps["notion"])
    assert (call.method, call.path) == ("PATCH", f"/v1/blocks/{page['id']}/children")
    assert [c["paragraph"]["rich_text"][0]["text"]["content"] for c in call.body["children"]] == [
        "one",
        "two",
    ]
    assert [b["type"] for b in appended["results"]] == ["paragraph", "paragraph"]
    assert all(b["id"] for b in appended["results"])


async def test_notion_errors(apis: AppApis, connect: Connect) -> None:
    ctx = connect("notion")
    invalid = await action_failure(
        "notion.create_page",
        ctx=ctx,
        given={
            "parent_id": DATABASE_ID,
            "title": "x",
            "properties": {"Stage": {"select": {"name": "A"}}},
        },
    )
    assert (invalid.kind, invalid.status) == ("fatal", 400)
    assert "Stage is not a property that exists." in str(invalid)

    apis.apps["notion"].data["rate_limited"] = "2"
    limited = await action_failure(
        "notion.query_database", ctx=ctx, given={"database_id": DATABASE_ID}
    )
    assert (limited.kind, limited.retry_after) == ("retryable", 2.0)


# --- Airtable ----------------------------------------------------------------------------

BASE_ID = "appLkNDICXNqxSDhG"
TABLE_ID = "tblrEBL7jEnF0lPIb"


async def test_airtable_create_list_and_update_records(apis: AppApis, connect: Connect) -> None:
    ctx = connect("airtable")
    created = await run_action(
        "airtable.create_records",
        ctx=ctx,
        given={
            "base_id": BASE_ID,
            "table": "Sales Leads",
            "records": [{"Name": "Acme", "Seats": "12"}, {"Name": "Globex"}],
            "typecast": True,
        },
    )
    call = last_call(apis.apps["airtable"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", f"/v0/{BASE_ID}/Sales Leads")
    assert call.body == {
        "records": [{"fields": {"Name": "Acme", "Seats": "12"}}, {"fields": {"Name": "Globex"}}],
        "typecast": True,
    }
    assert [r["fields"] for r in created["records"]] == [
        {"Name": "Acme", "Seats": 12.0},  # typecast turned the string into a number
        {"Name": "Globex"},
    ]
    acme_id = created["records"][0]["id"]

    first = await run_action(
        "airtable.list_records",
        ctx=ctx,
        given={"base_id": BASE_ID, "table": TABLE_ID, "page_size": 1},
    )
    call = last_call(apis.apps["airtable"])
    assert (call.method, call.path, call.query) == (
        "GET",
        f"/v0/{BASE_ID}/{TABLE_ID}",
        {"pageSize": "1"},
    )
    assert [r["id"] for r in first["records"]] == [acme_id]
    second = await run_action(
        "airtable.list_records",
        ctx=ctx,
        given={"base_id": BASE_ID, "table": TABLE_ID, "page_size": 1, "offset": first["offset"]},
    )
    assert [r["fields"]["Name"] for r in second["records"]] == ["Globex"]
    assert second["offset"] is None

    updated = await run_action(
        "airtable.update_record",
        ctx=ctx,
        given={
            "base_id": BASE_ID,
            "table": "Sales Leads",
            "record_id": acme_id,
            "fields": {"Status": "Won"},
        },
    )
    call = last_call(apis.apps["airtable"])
    assert (call.method, call.path) == ("PATCH", f"/v0/{BASE_ID}/Sales Leads/{acme_id}")
    assert call.body == {"fields": {"Status": "Won"}, "typecast": False}
    assert updated["fields"] == {"Name": "Acme", "Seats": 12.0, "Status": "Won"}


async def test_airtable_errors(apis: AppApis, connect: Connect) -> None:
    create = {"base_id": BASE_ID, "table": "Sales Leads", "records": [{"Name": "Acme"}]}
    ctx = connect("airtable")
    invalid = await action_failure(
        "airtable.create_records",
        ctx=ctx,
        given={**create, "records": [{"Name": "Acme", "Seats": "many"}]},
    )
    assert (invalid.kind, invalid.status) == ("fatal", 422)
    assert "INVALID_VALUE_FOR_COLUMN" in str(invalid)
    assert 'Field "Seats" cannot accept the provided value' in str(invalid)

    # Airtable sends no Retry-After: it documents a 30 second wait.
    apis.apps["airtable"].data["rate_limited"] = True
    limited = await action_failure(
        "airtable.list_records", ctx=ctx, given={"base_id": BASE_ID, "table": TABLE_ID}
    )
    assert (limited.kind, limited.status, limited.retry_after) == ("retryable", 429, 30.0)


# --- GitHub ------------------------------------------------------------------------------


async def test_github_create_issue_and_comment_on_it(apis: AppApis, connect: Connect) -> None:
    ctx = connect("github")
    issue = await run_action(
        "github.create_issue",
        ctx=ctx,
        given={
            "owner": "octo-org",
            "repo": "hello-world",
            "title": "Customer reported a bug",
            "body": "Steps to reproduce…",
            "labels": ["bug"],
            "assignees": ["hubot"],
        },
    )
    call = last_call(apis.apps["github"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/repos/octo-org/hello-world/issues")
    assert call.headers["Accept"] == "application/vnd.github+json"
    assert call.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert call.body == {
        "title": "Customer reported a bug",
        "body": "Steps to reproduce…",
        "labels": ["bug"],
        "assignees": ["hubot"],
    }
    assert issue["number"] == 1
    assert issue["state"] == "open"
    assert issue["html_url"] == "https://github.com/octo-org/hello-world/issues/1"
    assert (issue["labels"], issue["assignees"]) == (["bug"], ["hubot"])

    comment = await run_action(
        "github.add_issue_comment",
        ctx=ctx,
        given={"owner": "octo-org", "repo": "hello-world", "issue_number": 1, "body": "On it."},
    )
    call = last_call(apis.apps["github"])
    assert (call.method, call.path) == ("POST", "/repos/octo-org/hello-world/issues/1/comments")
    assert call.body == {"body": "On it."}
    assert comment["body"] == "On it."
    assert comment["html_url"].startswith(issue["html_url"] + "#issuecomment-")


async def test_github_list_repos(apis: AppApis, connect: Connect) -> None:
    ctx = connect("github")
    listed = await run_action(
        "github.list_repos", ctx=ctx, given={"visibility": "private", "per_page": 50}
    )
    call = last_call(apis.apps["github"])
    assert (call.method, call.path) == ("GET", "/user/repos")
    assert call.query == {
        "visibility": "private",
        "sort": "full_name",
        "per_page": "50",
        "page": "1",
    }
    assert listed["repositories"] == [
        {
            "id": 1296270,
            "name": "secret-plans",
            "full_name": "octocat/secret-plans",
            "owner": "octocat",
            "private": True,
            "html_url": "https://github.com/octocat/secret-plans",
            "default_branch": "main",
        }
    ]


async def test_github_errors(apis: AppApis, connect: Connect) -> None:
    issue = {"owner": "octo-org", "repo": "hello-world", "title": "x"}
    ctx = connect("github")
    invalid = await action_failure(
        "github.create_issue", ctx=ctx, given={**issue, "assignees": ["stranger"]}
    )
    assert (invalid.kind, invalid.status) == ("fatal", 422)
    assert "Validation Failed" in str(invalid)
    assert "'field': 'assignees'" in str(invalid)

    # The primary rate limit: 403 with x-ratelimit-remaining 0, retry when it resets.
    reset = int(time.time()) + 120
    apis.apps["github"].data["rate_limit_reset"] = reset
    limited = await action_failure("github.list_repos", ctx=ctx, given={})
    assert (limited.kind, limited.status) == ("retryable", 403)
    assert limited.retry_after is not None
    assert 100 < limited.retry_after <= 120


# --- Refused tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "token"),
    [
        (
            "microsoft_teams.send_channel_message",
            {"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "content": "hi"},
            "revoked-graph-token",
        ),
        (
            "google_sheets.append_row",
            {"spreadsheet_id": SPREADSHEET_ID, "range": "Nowhere!A1", "values": ["x"]},
            "revoked-google-token",
        ),
        ("notion.query_database", {"database_id": DATABASE_ID}, "revoked-notion-token"),
        (
            "airtable.create_records",
            {"base_id": BASE_ID, "table": "Sales Leads", "records": [{"Name": "Acme"}]},
            "revoked-airtable-token",
        ),
        (
            "github.create_issue",
            {"owner": "octo-org", "repo": "hello-world", "title": "x"},
            "gho_revoked",
        ),
    ],
)
async def test_a_refused_token_is_unauthorized(
    connect: Connect, name: str, given: dict[str, Any], token: str
) -> None:
    await refused_failure(name, connect=connect, token=token, given=given)


# --- Inputs ------------------------------------------------------------------------------

_MESSAGE = {"team_id": TEAM_ID, "channel_id": CHANNEL_ID, "content": "hi"}
_CREATE = {"base_id": BASE_ID, "table": "Sales Leads"}


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("slack.post_message", {"channel": "C0GENERAL1"}, "give text, blocks, or both"),
        ("slack.list_channels", {"types": ["dm"]}, "Input should be 'public_channel'"),
        ("slack.lookup_user_by_email", {"email": "ada"}, "String should match pattern"),
        (
            "microsoft_teams.send_channel_message",
            {**_MESSAGE, "team_id": "sales"},
            "String should match pattern",
        ),
        (
            "microsoft_teams.send_chat_message",
            {"chat_id": "../me/chats", "content": "hi"},
            "String should match pattern",
        ),
        ("microsoft_teams.list_joined_teams", {"top": 5}, "Extra inputs are not permitted"),
        (
            "google_sheets.append_row",
            {"spreadsheet_id": SPREADSHEET_ID, "range": "Sheet1", "values": []},
            "List should have at least 1 item",
        ),
        (
            "google_sheets.read_range",
            {"spreadsheet_id": "../drive", "range": "A1"},
            "String should match pattern",
        ),
        ("google_sheets.create_spreadsheet", {"title": ""}, "at least 1 character"),
        ("notion.create_page", {"parent_id": DATABASE_ID}, "give a title or properties"),
        (
            "notion.query_database",
            {"database_id": DATABASE_ID, "page_size": 101},
            "less than or equal to 100",
        ),
        (
            "notion.append_blocks",
            {"block_id": PAGE_ID, "paragraphs": ["a"], "children": [{"type": "divider"}]},
            "give either paragraphs or children",
        ),
        (
            "airtable.create_records",
            {**_CREATE, "records": [{"Name": str(i)} for i in range(11)]},
            "at most 10 items",
        ),
        ("airtable.list_records", {**_CREATE, "base_id": "base1"}, "String should match pattern"),
        (
            "airtable.update_record",
            {**_CREATE, "record_id": "rec00000000000001", "fields": {}},
            "at least 1 item",
        ),
        (
            "github.create_issue",
            {"owner": "octo-org", "repo": "..", "title": "x"},
            "not a repository name",
        ),
        (
            "github.add_issue_comment",
            {"owner": "octo-org", "repo": "hello-world", "issue_number": 0, "body": "x"},
            "greater than or equal to 1",
        ),
        ("github.list_repos", {"per_page": 500}, "less than or equal to 100"),
    ],
)
def test_each_input_model_rejects_a_bad_input_clearly(
    name: str, data: dict[str, Any], says: str
) -> None:
    assert says in str(input_rejection(ACTIONS[name].input_model, given=data))


def test_every_action_of_these_apps_is_typed_strictly_and_named_after_its_app() -> None:
    names = {name for name, action in ACTIONS.items() if action.app in SLUGS}
    assert len(names) == 18
    for name in names:
        action = ACTIONS[name]
        assert name.startswith(f"{action.app}.")
        assert action.input_model.model_config.get("extra") == "forbid"
        assert action.description
