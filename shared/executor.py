"""Fan-out and execution: what the worker's jobs do, as plain functions of ids.

``fan_out(event_id)`` creates one execution per matching (event, workflow) and enqueues
them. ``run_execution(execution_id)`` claims the execution (one claimer wins; a duplicate
job does nothing), runs its steps in order from the first one without a checkpoint, and
records the outcome: succeeded, a retry at a backoff time, failed, or needs_reauth.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from shared import jobs, workflow_templates
from shared.catalog import fill, has_user_fields
from shared.connectors import ACTIONS, ActionContext, ActionError
from shared.credentials import ReauthorizationNeeded, current_credentials, mark_needs_reauth
from shared.db import Record
from shared.logs import scrub_secrets
from shared.outbound import BlockedDestination, OutboundClient, ResponseTooLarge, parse_networks
from shared.resources import Resources
from shared.stores import connections as connection_store
from shared.stores import executions as store
from shared.tenancy import Tenant

log = structlog.get_logger(logger_name="linkport.executor")
_EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


@dataclass
class Clients:
    """Outbound HTTP: guarded for URLs a client gives, trusted for catalog APIs (operator data)."""

    guarded: OutboundClient
    trusted: OutboundClient

    @classmethod
    def create(cls, res: Resources) -> Clients:
        """Both clients, bounded by the outbound settings."""
        s = res.settings
        return cls(
            OutboundClient(
                allowed=parse_networks(s.outbound_allowed_networks),
                timeout=s.outbound_timeout,
                max_bytes=s.outbound_max_response_bytes,
            ),
            OutboundClient(
                allowed=_EVERYWHERE,
                timeout=s.outbound_timeout,
                max_bytes=s.outbound_max_response_bytes,
            ),
        )

    async def close(self) -> None:
        """Release both."""
        await self.guarded.close()
        await self.trusted.close()


async def fan_out(res: Resources, *, event_id: uuid.UUID) -> int:
    """Create and enqueue the event's executions; returns how many were created now."""
    event = await store.claim_event(res.pool, event_id=event_id)
    if event is None:
        return 0  # already fanned out (a duplicate job)
    targets = await store.fan_out_targets(res.pool, event=event)
    created = await store.create_executions(res.pool, event=event, targets=targets)
    for execution_id in created:
        await jobs.enqueue_execution(res.redis, execution_id, 0)
    return len(created)


def backoff(res: Resources, attempt: int) -> float:
    """Seconds before retry ``attempt`` + 1: exponential, capped, with jitter."""
    ceiling = min(res.settings.retry_max_delay, res.settings.retry_base_delay * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def run_execution(res: Resources, clients: Clients, *, execution_id: uuid.UUID) -> str | None:
    """Run (or resume) an execution; returns its state afterwards, or None if not claimed."""
    execution = await store.claim_execution(
        res.pool, execution_id=execution_id, lease_seconds=res.settings.execution_lease
    )
    if execution is None:
        return None
    try:
        return await _run(res, clients, execution)
    except asyncio.CancelledError:
        # SIGTERM: arq hands the job back; release the row so it runs again at once,
        # resuming from its last checkpoint, instead of after the lease.
        await asyncio.shield(store.release_claim(res.pool, execution_id=execution_id))
        raise
    except Exception as exc:  # a bug or an outage: retry like any transient failure
        log.exception("execution_crashed", execution_id=str(execution_id))
        return await _retry_or_fail(
            res, execution, {"kind": "internal", "message": type(exc).__name__}
        )


async def _run(res: Resources, clients: Clients, execution: Record) -> str:
    tenant = Tenant(execution["client_id"], execution["environment"])
    workflow = await res.pool.fetchrow(
        "SELECT * FROM workflows WHERE id = $1", execution["workflow_id"]
    )
    event = await res.pool.fetchrow("SELECT * FROM events WHERE id = $1", execution["event_id"])
    connection = await connection_store.get_connection(
        res.pool, tenant=tenant, connection_id=execution["connection_id"]
    )
    if workflow is None or event is None or connection is None:
        return await _finish(
            res,
            execution,
            "failed",
            {"kind": "fatal", "message": "workflow, event or connection is gone"},
        )
    if connection.read.status != "active":
        return await _finish(
            res,
            execution,
            "needs_reauth",
            {"kind": "unauthorized", "message": "the connection needs re-authorisation"},
        )
    context = await _context(res, execution, workflow, event)
    done = await store.step_checkpoints(res.pool, execution_id=execution["id"])
    app = res.catalog.get(workflow["app"])
    api_base = (
        fill(app.api_base_url, base_url=res.settings.base_url, fields=connection.read.fields)
        if app and app.api_base_url
        else None
    )
    trusted_api = bool(app and app.api_base_url and not has_user_fields(app.api_base_url))
    for position, step in enumerate(workflow["definition"]["steps"]):
        previous = done.get(step["id"])
        if previous is not None and previous["status"] in ("succeeded", "skipped"):
            context["steps"][step["id"]] = previous["output"]  # checkpoint: never run a step twice
            continue
        outcome = await _run_step(
            res, clients, execution, tenant, step, position, context, api_base, trusted_api
        )
        if outcome is not None:
            return outcome
    return await _finish(res, execution, "succeeded", None)


async def _context(
    res: Resources, execution: Record, workflow: Record, event: Record
) -> dict[str, Any]:
    values: dict[str, Any] = {f["key"]: f.get("default") for f in workflow["definition"]["fields"]}
    if execution["config_id"] is not None:
        config = await res.pool.fetchrow(
            "SELECT field_values FROM configs WHERE id = $1", execution["config_id"]
        )
        if config is not None:
            values.update(config["field_values"])
    account = await res.pool.fetchrow(
        """SELECT linked_account_id, name, metadata FROM linked_accounts
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3""",
        execution["client_id"],
        execution["environment"],
        execution["linked_account_id"],
    )
    return {
        "event": event["payload"],
        "config": values,
        "linked_account": {
            "id": execution["linked_account_id"],
            "name": account["name"] if account else None,
            "metadata": account["metadata"] if account else {},
        },
        "steps": {},
    }


async def _run_step(
    res: Resources,
    clients: Clients,
    execution: Record,
    tenant: Tenant,
    step: dict[str, Any],
    position: int,
    context: dict[str, Any],
    api_base: str | None,
    trusted_api: bool,
) -> str | None:
    """Run one step and checkpoint it; returns the execution's new state if it stops here."""
    started = datetime.now(UTC)
    action = ACTIONS[step["action"]]

    async def record(status: str, input_: Any, output: Any, error: Any) -> None:
        await store.checkpoint_step(
            res.pool,
            execution_id=execution["id"],
            step_id=step["id"],
            position=position,
            status=status,
            input_=input_,
            output=output,
            error=error,
            started_at=started,
            finished_at=datetime.now(UTC),
        )

    try:
        if step.get("when") and not workflow_templates.condition_holds(step["when"], context):
            await record("skipped", None, None, None)
            context["steps"][step["id"]] = None
            return None
        rendered = workflow_templates.render(step.get("input", {}), context)
    except workflow_templates.TemplateFailed as exc:
        error = {"kind": "fatal", "message": str(exc)}
        await record("failed", None, None, error)
        return await _finish(res, execution, "failed", error)
    try:
        data = action.input_model.model_validate(rendered)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        error = {"kind": "fatal", "message": f"input {where}: {first['msg']}"}
        await record("failed", rendered, None, error)
        return await _finish(res, execution, "failed", error)

    client = clients.trusted if (action.app is not None and trusted_api) else clients.guarded
    idempotency_key = f"{execution['id']}:{step['id']}"
    rejected: str | None = None
    try:
        for _ in range(2):  # a 401 earns one refresh and one more try
            creds = await current_credentials(
                res,
                tenant=tenant,
                connection_id=execution["connection_id"],
                rejected_token=rejected,
            )
            ctx = ActionContext(creds, api_base, idempotency_key, client)
            try:
                output = await action.run(ctx, data)
                break
            except ActionError as exc:
                if (
                    exc.kind != "unauthorized"
                    or rejected is not None
                    or not creds.get("refresh_token")
                ):
                    raise
                rejected = creds.get("access_token")
        await record("succeeded", rendered, output, None)
        context["steps"][step["id"]] = output
        return None
    except ReauthorizationNeeded as exc:
        error = {"kind": "unauthorized", "message": str(exc)}
    except ActionError as exc:
        error = exc.as_dict()
        if exc.kind == "unauthorized":
            connection = await connection_store.get_connection(
                res.pool, tenant=tenant, connection_id=execution["connection_id"]
            )
            if connection is not None:
                await mark_needs_reauth(res, connection=connection, reason="the app answered 401")
        elif exc.kind == "retryable":
            await record("failed", rendered, None, error)
            return await _retry_or_fail(res, execution, error, retry_after=exc.retry_after)
    except (BlockedDestination, ResponseTooLarge) as exc:
        error = {"kind": "fatal", "message": str(exc)}
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = {"kind": "retryable", "message": f"network: {type(exc).__name__}"}
        await record("failed", rendered, None, error)
        return await _retry_or_fail(res, execution, error)
    await record("failed", rendered, None, error)
    return await _finish(
        res, execution, "needs_reauth" if error["kind"] == "unauthorized" else "failed", error
    )


async def _retry_or_fail(
    res: Resources, execution: Record, error: dict[str, Any], *, retry_after: float | None = None
) -> str:
    attempt = execution["attempts"]
    if attempt >= res.settings.execution_max_attempts:
        return await _finish(
            res, execution, "failed", {**error, "attempts": attempt, "final": True}
        )
    delay = max(retry_after or 0.0, backoff(res, attempt))
    at = datetime.now(UTC) + timedelta(seconds=delay)
    await store.schedule_retry(res.pool, execution_id=execution["id"], at=at, error=error)
    await jobs.enqueue_execution(res.redis, execution["id"], attempt, defer_until=at)
    return "pending"


async def _finish(
    res: Resources, execution: Record, status: str, error: dict[str, Any] | None
) -> str:
    await store.finish_execution(res.pool, execution_id=execution["id"], status=status, error=error)
    log.info("execution_finished", execution_id=str(execution["id"]), status=status)
    return status


async def sweep(res: Resources, *, limit: int = 500) -> tuple[int, int]:
    """Re-enqueue due work that may have no live job (Redis flushed, process killed, enqueue
    lost). Job ids make this harmless when the job does exist. Returns (events, executions)."""
    events, executions = await store.due_work(res.pool, limit=limit, grace=res.settings.sweep_grace)
    for event in events:
        await jobs.enqueue_fan_out(res.redis, event["id"], event["attempts"])
    for execution in executions:
        await jobs.enqueue_execution(res.redis, execution["id"], execution["attempts"])
    return len(events), len(executions)


def redact(value: Any) -> Any:
    """Step input/output as history shows it: secret-named fields and secret-shaped text blanked."""
    return scrub_secrets(value)
