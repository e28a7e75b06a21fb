"""Events fanned out to workflows and run by a real arq worker against the sandbox app.

The worker runs in arq's burst mode: it runs what the test queued (and the retries those
jobs schedule), then stops, and the test asserts on arq's job counts and on the rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from services.gateway.appkeys import RESOURCES
from shared.connections.credentials import connection_binding
from shared.executions import store as execution_store
from shared.infra import db
from shared.infra.crypto import Sealed
from tests.fakes import StartFake
from tests.fakes.echo_app import EchoApp
from tests.helpers import Api
from tests.workflow_fixtures import (
    CONTACT_SAMPLE,
    CREATE_CONTACT_WORKFLOW,
    arranged,
    connect_sandbox,
    create_workflow,
    define_contact_event,
    enable,
    event_executions,
    finished_executions,
    run_queued,
    running_worker,
    send,
    worker_settings,
)


async def test_event_to_a_recorded_call_on_the_sandbox_api(acme: Api, pool: db.Pool) -> None:
    connection_id, workflow_id = await arranged(acme)
    event_id = await send(acme)
    assert await run_queued(worker_settings(acme)) == (1, 0, 0)  # the fan-out job ran it
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    assert execution["workflow_id"] == workflow_id
    contacts = await pool.fetch("SELECT data, idempotency_key FROM sandbox_contacts")
    assert [c["data"] for c in contacts] == [
        {"email": "ada@example.com", "name": "Ada Lovelace", "source": "app"}
    ]
    assert contacts[0]["idempotency_key"] == f"{execution['id']}:create"
    calls = await acme.call("GET", f"/v1/connections/{connection_id}/sandbox/calls")
    assert [(c["method"], c["path"], c["status"]) for c in calls.body["data"]] == [
        ("POST", "/contacts", 201)
    ]

    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert detail.body["status"] == "succeeded"
    assert detail.body["attempts"] == 1
    (step,) = detail.body["steps"]
    assert step["step_id"] == "create"
    assert step["status"] == "succeeded"
    assert step["input"]["name"] == "Ada Lovelace"
    assert step["output"]["email"] == "ada@example.com"
    assert step["attempts"] == 1
    assert step["duration_ms"] >= 0
    event = await acme.call("GET", f"/v1/events/{event_id}")
    assert event.body["status"] == "fanned_out"


async def test_config_field_values_reach_the_templates(acme: Api, pool: db.Pool) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow_id = await create_workflow(acme)
    await enable(acme, "user_12345", workflow_id, fields={"source": "newsletter"})
    await send(acme)
    assert await run_queued(worker_settings(acme)) == (1, 0, 0)
    assert await pool.fetchval("SELECT data ->> 'source' FROM sandbox_contacts") == "newsletter"


async def test_fan_out_to_several_workflows_once(acme: Api, pool: db.Pool) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    first = await create_workflow(acme)
    second = await create_workflow(acme, {**CREATE_CONTACT_WORKFLOW, "name": "Second"})
    disabled = await create_workflow(acme, {**CREATE_CONTACT_WORKFLOW, "name": "Not enabled"})
    await enable(acme, "user_12345", first, second)
    event_id = await send(acme)  # no worker yet: fan out by hand, twice
    resources = acme.http.app[RESOURCES]
    assert (
        len(await execution_store.fan_out_events(resources.pool, event_ids=[uuid.UUID(event_id)]))
        == 2
    )
    assert (
        await execution_store.fan_out_events(resources.pool, event_ids=[uuid.UUID(event_id)]) == []
    )
    rows = await pool.fetch("SELECT workflow_id FROM executions")
    assert {str(r["workflow_id"]) for r in rows} == {first, second}
    assert disabled not in {str(r["workflow_id"]) for r in rows}
    # Executions created by hand have no job: the sweeper of a running worker finds them.
    async with running_worker(worker_settings(acme)):
        executions = await finished_executions(acme, event_id, count=2)
    assert {e["status"] for e in executions} == {"succeeded"}
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == 2


async def test_no_execution_without_an_active_connection(acme: Api, pool: db.Pool) -> None:
    connection_id, _ = await arranged(acme)
    await pool.execute("UPDATE connections SET status = 'needs_reauth'")
    event_id = await send(acme)
    assert (
        await execution_store.fan_out_events(
            acme.http.app[RESOURCES].pool, event_ids=[uuid.UUID(event_id)]
        )
        == []
    )
    assert connection_id


async def test_config_id_narrows_the_fan_out(acme: Api, pool: db.Pool) -> None:
    await connect_sandbox(acme)
    await define_contact_event(acme)
    workflow_id = await create_workflow(acme)
    await enable(acme, "user_12345", workflow_id)
    reply = await acme.call(
        "POST",
        "/v1/events",
        {
            "event": "contact.created",
            "linked_account_id": "user_12345",
            "payload": CONTACT_SAMPLE,
            "config_id": "other",
        },
    )
    assert (
        await execution_store.fan_out_events(
            acme.http.app[RESOURCES].pool, event_ids=[uuid.UUID(reply.body["event_id"])]
        )
        == []
    )


@pytest.mark.parametrize(("fault", "status"), [("rate_limited", 429), ("server_error", 500)])
async def test_retries_on_429_and_500_until_it_works(
    acme: Api, pool: db.Pool, fault: str, status: int
) -> None:
    connection_id, _ = await arranged(acme)
    await acme.call(
        "PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": fault, "count": 2}
    )
    event_id = await send(acme)
    # The fan-out job's try fails, then one job per retry: arq sees three jobs complete.
    assert await run_queued(worker_settings(acme)) == (3, 0, 0)
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert detail.body["attempts"] == 3
    assert detail.body["steps"][0]["attempts"] == 3
    calls = await acme.call("GET", f"/v1/connections/{connection_id}/sandbox/calls")
    assert [c["status"] for c in calls.body["data"]] == [status, status, 201]
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == 1


async def test_final_failure_is_kept_and_can_be_replayed(acme: Api, pool: db.Pool) -> None:
    connection_id, _ = await arranged(acme)
    await acme.call(
        "PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "server_error"}
    )
    settings = worker_settings(acme, execution_max_attempts=3)
    event_id = await send(acme)
    assert await run_queued(settings) == (3, 0, 0)  # three tries, the last one final
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "failed"
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert detail.body["attempts"] == 3
    assert detail.body["error"]["final"] is True
    assert detail.body["error"]["status"] == 500
    failed = await acme.call("GET", "/v1/executions", params={"status": "failed"})
    assert [e["id"] for e in failed.body["data"]] == [execution["id"]]

    await acme.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": None})
    replay = await acme.call("POST", f"/v1/executions/{execution['id']}/replay")
    assert replay.status == 200
    assert replay.body["status"] == "pending"
    assert await run_queued(settings) == (1, 0, 0)  # the replay's job
    shown = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert shown.body["status"] == "succeeded"
    again = await acme.call("POST", f"/v1/executions/{execution['id']}/replay")
    assert again.status == 409
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == 1


async def test_401_marks_the_connection_for_reauthorisation(acme: Api, pool: db.Pool) -> None:
    connection_id, _ = await arranged(acme)
    await acme.call("PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "revoked"})
    event_id = await send(acme)
    assert await run_queued(worker_settings(acme)) == (1, 0, 0)
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "needs_reauth"
    connection = await acme.call("GET", f"/v1/connections/{connection_id}")
    assert connection.body["status"] == "needs_reauth"
    assert connection.body["status_reason"]
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert detail.body["error"]["kind"] == "unauthorized"


async def test_an_expired_token_is_refreshed_and_the_call_retried(acme: Api, pool: db.Pool) -> None:
    connection_id, _ = await arranged(acme)
    await acme.call(
        "PUT", f"/v1/connections/{connection_id}/sandbox/fault", {"fault": "expired_token"}
    )
    event_id = await send(acme)
    assert await run_queued(worker_settings(acme)) == (1, 0, 0)  # refreshed within its one try
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM sandbox_tokens WHERE kind = 'refresh' AND used_at IS NOT NULL"
        )
        == 1
    )
    calls = await acme.call("GET", f"/v1/connections/{connection_id}/sandbox/calls")
    assert [c["status"] for c in calls.body["data"]] == [401, 201]


async def _expire_stored_token(api: Api, pool: db.Pool, connection_id: str) -> None:
    """Make the connection's access token look expired to Linkport (it refreshes before use)."""
    res = api.http.app[RESOURCES]
    row = await pool.fetchrow("SELECT * FROM connections WHERE id = $1", uuid.UUID(connection_id))
    assert row is not None
    binding = connection_binding(row["id"])
    creds = orjson.loads(
        res.keyring.open(
            Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"]),
            bound_to=binding,
        )
    )
    creds["expires_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    sealed = res.keyring.seal(orjson.dumps(creds), bound_to=binding)
    await pool.execute(
        "UPDATE connections SET credentials = $2, credentials_nonce = $3 WHERE id = $1",
        row["id"],
        sealed.ciphertext,
        sealed.nonce,
    )


async def test_twenty_executions_needing_a_refresh_make_one_refresh_call(
    acme: Api, pool: db.Pool
) -> None:
    connection_id, _ = await arranged(acme)
    await _expire_stored_token(acme, pool, connection_id)
    events = [await send(acme, {**CONTACT_SAMPLE, "email": f"p{i}@example.com"}) for i in range(20)]
    assert await run_queued(worker_settings(acme)) == (20, 0, 0)  # side by side, one each
    for event_id in events:
        (execution,) = await event_executions(acme, event_id)
        assert execution["status"] == "succeeded"
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM sandbox_tokens WHERE kind = 'refresh' AND used_at IS NOT NULL"
        )
        == 1
    )
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == 20
    stored = await pool.fetchval("SELECT credentials_expires_at FROM connections")
    assert stored > datetime.now(UTC)


@pytest.fixture
async def flaky_server(start_fake: StartFake) -> EchoApp:
    """A fake third-party API on loopback: fails the first call of each /flaky path with 500."""
    return await start_fake(EchoApp())


async def test_a_retry_resumes_at_the_failed_step(
    acme: Api, pool: db.Pool, flaky_server: EchoApp
) -> None:
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            CREATE_CONTACT_WORKFLOW["steps"][0],
            {
                "id": "notify",
                "action": "http.request",
                "input": {
                    "url": flaky_server.url + "/flaky/notify",
                    "json": {"contact": "{{ steps.create.id }}"},
                },
            },
        ],
    }
    await arranged(acme, workflow)
    event_id = await send(acme)
    settings = worker_settings(acme, outbound_allowed_networks="127.0.0.0/8")
    assert await run_queued(settings) == (2, 0, 0)  # the fan-out job, then the retry's
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"
    assert await pool.fetchval("SELECT count(*) FROM sandbox_contacts") == 1  # step 1 ran once
    sandbox_calls = await pool.fetchval("SELECT count(*) FROM sandbox_calls")
    assert sandbox_calls == 1
    notify_calls = flaky_server.calls_to("/flaky/notify")
    assert len(notify_calls) == 2
    assert {c.idempotency_key for c in notify_calls} == {f"{execution['id']}:notify"}  # same key
    contact_id = await pool.fetchval("SELECT id FROM sandbox_contacts")
    assert notify_calls[1].body == {"contact": contact_id}
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    assert [(s["step_id"], s["attempts"]) for s in detail.body["steps"]] == [
        ("create", 1),
        ("notify", 2),
    ]
    assert detail.body["steps"][1]["input"]["json"] == {"contact": contact_id}


async def test_history_redacts_secrets(acme: Api, flaky_server: EchoApp) -> None:
    workflow = {
        **CREATE_CONTACT_WORKFLOW,
        "steps": [
            {
                "id": "call",
                "action": "http.request",
                "input": {
                    "url": flaky_server.url + "/ok",
                    "headers": {"Authorization": "Bearer sk_live_abcdefghijklmnop"},
                    "json": {"password": "hunter2", "email": "{{ event.email }}"},
                },
            }
        ],
    }
    await arranged(acme, workflow)
    event_id = await send(acme)
    assert await run_queued(worker_settings(acme, outbound_allowed_networks="127.0.0.0/8")) == (
        1,
        0,
        0,
    )
    (execution,) = await event_executions(acme, event_id)
    detail = await acme.call("GET", f"/v1/executions/{execution['id']}")
    step = detail.body["steps"][0]
    assert step["input"]["headers"]["Authorization"] == "[redacted]"
    assert step["input"]["json"]["password"] == "[redacted]"
    assert step["input"]["json"]["email"] == "ada@example.com"
    assert "hunter2" not in str(detail.body)
    assert "sk_live_abcdefghijklmnop" not in str(detail.body)


async def test_history_lists_and_filters(acme: Api) -> None:
    _, workflow_id = await arranged(acme)
    events = [await send(acme, {**CONTACT_SAMPLE, "email": f"h{i}@example.com"}) for i in range(3)]
    assert await run_queued(worker_settings(acme)) == (3, 0, 0)
    page = await acme.call(
        "GET", "/v1/executions", params={"limit": "2", "workflow_id": workflow_id}
    )
    assert len(page.body["data"]) == 2
    rest = await acme.call(
        "GET",
        "/v1/executions",
        params={"cursor": page.body["next_cursor"], "workflow_id": workflow_id},
    )
    assert len(rest.body["data"]) == 1
    by_event = await acme.call("GET", "/v1/executions", params={"event_id": events[0]})
    assert [e["event_id"] for e in by_event.body["data"]] == [events[0]]
    by_account = await acme.call("GET", "/v1/executions", params={"linked_account_id": "nobody"})
    assert by_account.body["data"] == []
    bad = await acme.call("GET", "/v1/executions", params={"event_id": "nope"})
    assert bad.status == 422
    assert (await acme.call("GET", "/v1/executions/not-an-id")).status == 404
