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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import structlog
from pydantic import ValidationError

from shared.connections.credentials import (
    ReauthorizationNeeded,
    current_credentials,
    mark_needs_reauth,
)
from shared.connections.store import StoredConnection
from shared.connectors import ACTIONS, ActionContext, ActionError
from shared.connectors.catalog import fill, has_user_fields
from shared.executions import store
from shared.executions.store import ClaimedExecution, StepRun
from shared.infra import queue as jobs
from shared.infra.db import Record
from shared.infra.logs import scrub_secrets
from shared.infra.outbound import (
    BlockedDestination,
    OutboundClient,
    ResponseTooLarge,
    parse_networks,
)
from shared.infra.resources import Resources
from shared.tenancy import Tenant
from shared.workflows import templates as workflow_templates

log = structlog.get_logger(logger_name="linkport.executor")
# A fan-out job runs up to this many executions itself; more are enqueued (see fan_out_and_run).
INLINE_EXECUTIONS = jobs.FAN_OUT_CHUNK
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


async def fan_out(res: Resources, *, event_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Create (commit) the executions of those events still waiting; returns the ids created
    now (none for events already fanned out: a duplicate job)."""
    return await store.fan_out_events(res.pool, event_ids=event_ids)


async def fan_out_and_run(
    res: Resources, clients: Clients, *, event_ids: Sequence[uuid.UUID]
) -> int:
    """What a fan-out job does: create the executions, then run them here, one after another,
    when they are few (each would otherwise cost a job of its own and a trip through the
    queue), or enqueue them for every worker to share. Returns how many were created."""
    created = await fan_out(res, event_ids=event_ids)
    if len(created) > INLINE_EXECUTIONS:
        await jobs.enqueue_many(res.redis, [jobs.execution_job(e, 0) for e in created])
        return len(created)
    waiting = list(created)
    try:
        while waiting:
            await run_execution(res, clients, execution_id=waiting[0])
            waiting.pop(0)
    except asyncio.CancelledError:
        # SIGTERM: the running one released its claim; hand every unfinished one to the
        # queue so another worker starts them now, not after the sweeper's grace period.
        await asyncio.shield(
            jobs.enqueue_many(res.redis, [jobs.execution_job(e, 0) for e in waiting])
        )
        raise
    return len(created)


def backoff(res: Resources, attempt: int) -> float:
    """Seconds before retry ``attempt`` + 1: exponential, capped, with jitter."""
    ceiling = min(res.settings.retry_max_delay, res.settings.retry_base_delay * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def run_execution(res: Resources, clients: Clients, *, execution_id: uuid.UUID) -> str | None:
    """Run (or resume) an execution; returns its state afterwards, or None if not claimed."""
    claimed = await store.claim_execution(
        res.pool, execution_id=execution_id, lease_seconds=res.settings.execution_lease
    )
    if claimed is None:
        return None
    try:
        return await _run(res, clients, claimed)
    except asyncio.CancelledError:
        # SIGTERM: arq hands the job back; release the row so it runs again at once,
        # resuming from its last checkpoint, instead of after the lease.
        await asyncio.shield(store.release_claim(res.pool, execution_id=execution_id))
        raise
    except Exception as exc:  # a bug or an outage: retry like any transient failure
        log.exception("execution_crashed", execution_id=str(execution_id))
        return await _retry_or_fail(
            res, claimed.row, {"kind": "internal", "message": type(exc).__name__}
        )


async def _run(res: Resources, clients: Clients, claimed: ClaimedExecution) -> str:
    execution, connection = claimed.row, claimed.connection
    tenant = Tenant(execution["client_id"], execution["environment"])
    if claimed.workflow_app is None or connection is None:
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
    context = _context(claimed)
    app = res.catalog.get(claimed.workflow_app)
    api_base = (
        fill(app.api_base_url, base_url=res.settings.base_url, fields=connection.read.fields)
        if app and app.api_base_url
        else None
    )
    trusted_api = bool(app and app.api_base_url and not has_user_fields(app.api_base_url))
    steps = claimed.definition["steps"]
    for position, step in enumerate(steps):
        previous = claimed.checkpoints.get(step["id"])
        if previous is not None and previous["status"] in ("succeeded", "skipped"):
            context["steps"][step["id"]] = previous["output"]  # checkpoint: never run a step twice
            continue
        outcome = await _run_step(
            res,
            clients,
            execution,
            tenant,
            step,
            position,
            context,
            api_base,
            trusted_api,
            connection,
        )
        if outcome.then == "retry":
            assert outcome.error is not None
            return await _retry_or_fail(
                res, execution, outcome.error, retry_after=outcome.retry_after, step=outcome.run
            )
        if outcome.then != "next":
            return await _finish(res, execution, outcome.then, outcome.error, step=outcome.run)
        context["steps"][step["id"]] = outcome.run.output
        if position < len(steps) - 1:
            await store.checkpoint_step(res.pool, execution_id=execution["id"], step=outcome.run)
        else:  # the last step's outcome and the final state: one statement
            return await _finish(res, execution, "succeeded", None, step=outcome.run)
    return await _finish(res, execution, "succeeded", None)


def _context(claimed: ClaimedExecution) -> dict[str, Any]:
    values: dict[str, Any] = {f["key"]: f.get("default") for f in claimed.definition["fields"]}
    values.update(claimed.config_values)
    return {
        "event": claimed.payload,
        "config": values,
        "linked_account": {
            "id": claimed.row["linked_account_id"],
            "name": claimed.account_name,
            "metadata": claimed.account_metadata,
        },
        "steps": {},
    }


@dataclass(frozen=True)
class StepOutcome:
    """How a step went, and what the execution does next: the next step, a retry, or stop in
    a final state."""

    run: StepRun
    then: Literal["next", "retry", "failed", "needs_reauth"]
    error: dict[str, Any] | None = None
    retry_after: float | None = None


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
    connection: StoredConnection,
) -> StepOutcome:
    """Run one step (the caller records its outcome with whatever follows)."""
    started = datetime.now(UTC)
    action = ACTIONS[step["action"]]

    def outcome(
        status: str,
        then: Literal["next", "retry", "failed", "needs_reauth"],
        input_: Any = None,
        output: Any = None,
        error: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> StepOutcome:
        run = StepRun(
            step["id"], position, status, input_, output, error, started, datetime.now(UTC)
        )
        return StepOutcome(run, then, error, retry_after)

    try:
        if step.get("when") and not workflow_templates.condition_holds(step["when"], context):
            return outcome("skipped", "next")
        rendered = workflow_templates.render(step.get("input", {}), context)
    except workflow_templates.TemplateFailed as exc:
        return outcome("failed", "failed", error={"kind": "fatal", "message": str(exc)})
    try:
        data = action.input_model.model_validate(rendered)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        error = {"kind": "fatal", "message": f"input {where}: {first['msg']}"}
        return outcome("failed", "failed", rendered, error=error)

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
                # what the claim loaded, unless the app just refused it: then read it afresh
                loaded=connection if rejected is None else None,
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
        return outcome("succeeded", "next", rendered, output)
    except ReauthorizationNeeded as exc:
        error = {"kind": "unauthorized", "message": str(exc)}
    except ActionError as exc:
        error = exc.as_dict()
        if exc.kind == "unauthorized":
            await mark_needs_reauth(res, connection=connection, reason="the app answered 401")
        elif exc.kind == "retryable":
            return outcome("failed", "retry", rendered, error=error, retry_after=exc.retry_after)
    except (BlockedDestination, ResponseTooLarge) as exc:
        error = {"kind": "fatal", "message": str(exc)}
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = {"kind": "retryable", "message": f"network: {type(exc).__name__}"}
        return outcome("failed", "retry", rendered, error=error)
    if error["kind"] == "unauthorized":
        return outcome("failed", "needs_reauth", rendered, error=error)
    return outcome("failed", "failed", rendered, error=error)


async def _retry_or_fail(
    res: Resources,
    execution: Record,
    error: dict[str, Any],
    *,
    retry_after: float | None = None,
    step: StepRun | None = None,
) -> str:
    attempt = execution["attempts"]
    if attempt >= res.settings.execution_max_attempts:
        return await _finish(
            res, execution, "failed", {**error, "attempts": attempt, "final": True}, step=step
        )
    delay = max(retry_after or 0.0, backoff(res, attempt))
    at = datetime.now(UTC) + timedelta(seconds=delay)
    await store.schedule_retry(
        res.pool, execution_id=execution["id"], at=at, error=error, step=step
    )
    await jobs.enqueue(res.redis, jobs.execution_job(execution["id"], attempt, defer_until=at))
    return "pending"


async def _finish(
    res: Resources,
    execution: Record,
    status: str,
    error: dict[str, Any] | None,
    *,
    step: StepRun | None = None,
) -> str:
    await store.finish_execution(
        res.pool, execution_id=execution["id"], status=status, error=error, step=step
    )
    log.info("execution_finished", execution_id=str(execution["id"]), status=status)
    return status


async def sweep(res: Resources, *, limit: int = 500) -> tuple[int, int]:
    """Re-enqueue due work that may have no live job (Redis flushed, process killed, enqueue
    lost). Job ids make this harmless when the job does exist. Returns (events, executions)."""
    events, executions = await store.due_work(res.pool, limit=limit, grace=res.settings.sweep_grace)
    await jobs.enqueue_many(
        res.redis,
        [
            *jobs.fan_out_jobs([event["id"] for event in events]),
            *(jobs.execution_job(e["id"], e["attempts"]) for e in executions),
        ],
    )
    return len(events), len(executions)


def redact(value: Any) -> Any:
    """Step input/output as history shows it: secret-named fields and secret-shaped text blanked."""
    return scrub_secrets(value)
