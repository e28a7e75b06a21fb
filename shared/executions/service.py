"""Running an execution: claim it, run its steps from the first without a checkpoint, record
the outcome (succeeded, a retry at a backoff time, failed, or needs_reauth).

A claim has one winner, so a duplicate job does nothing. Each step's outcome is recorded
before the next step starts, so a retry resumes at the step that failed and a step that
succeeded is never run twice. Step inputs and outputs are scrubbed of secrets before they
are stored.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import structlog
from arq.connections import ArqRedis
from pydantic import ValidationError

from shared.config import Settings
from shared.connections import store as connection_store
from shared.connections.credentials import (
    CredentialSource,
    ReauthorizationNeeded,
    current_credentials,
    mark_needs_reauth,
)
from shared.connections.models import StoredConnection
from shared.connectors import ACTIONS, ActionContext, ActionError
from shared.connectors.catalog import App, fill, has_user_fields
from shared.errors import ApiError, ErrorCode, not_found
from shared.executions import store
from shared.executions.models import (
    ClaimedExecution,
    Execution,
    ExecutionStatus,
    StepRun,
    StepStatus,
)
from shared.infra import metrics, queue, tracing
from shared.infra.db import Pool
from shared.infra.logs import scrub_secrets
from shared.infra.outages import POSTGRES_OUTAGE_ERRORS
from shared.infra.outbound import BlockedDestination, ResponseTooLarge
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks
from shared.workflows import templates
from shared.workflows.models import StepSpec, WorkflowDefinition

log = structlog.get_logger(logger_name="linkport.executions")


@dataclass(frozen=True)
class Runner:
    """What running executions uses: Postgres, the queue (retries), and the connections'
    credentials with the catalog and the outbound client behind them."""

    pool: Pool
    redis: ArqRedis
    credentials: CredentialSource
    settings: Settings


def backoff(attempt: int, *, base: float, ceiling: float) -> float:
    """Seconds before retry ``attempt`` + 1: exponential from ``base``, capped, with jitter."""
    top = min(ceiling, base * 2 ** (attempt - 1))
    return random.uniform(top / 2, top)


async def run_execution(runner: Runner, *, execution_id: uuid.UUID) -> ExecutionStatus | None:
    """Run (or resume) an execution; returns its state afterwards, or None if not claimed."""
    claim = asyncio.ensure_future(
        store.claim_execution(
            runner.pool, execution_id=execution_id, lease_seconds=runner.settings.execution_lease
        )
    )
    try:
        claimed = await asyncio.shield(claim)
    except asyncio.CancelledError:
        # SIGTERM during the claim: it may commit all the same; give it back, or the
        # execution would wait for its lease to run out.
        taken = await claim
        if taken is not None:
            await store.release_claim(
                runner.pool, execution_id=execution_id, attempts=taken.execution.attempts
            )
        raise
    if claimed is None:
        return None
    execution = claimed.execution
    started = time.perf_counter()
    outcome: ExecutionStatus | None = None  # None: interrupted (handed back, or an outage)
    # Every line logged while it runs names the execution and its event; with tracing on, a
    # span in the trace its row carries (each outbound call a child of it).
    with (
        structlog.contextvars.bound_contextvars(
            execution_id=str(execution.id), event_id=str(execution.event_id)
        ),
        tracing.span(
            "linkport.execution",
            parent=execution.trace_context,
            attributes={
                "linkport.execution_id": str(execution.id),
                "linkport.attempt": execution.attempts,
            },
        ) as span,
    ):
        try:
            outcome = await _attempt(runner, claimed)
            return outcome
        finally:
            label = (
                "interrupted"
                if outcome is None
                else "retry"
                if outcome == ExecutionStatus.PENDING
                else outcome.value
            )
            metrics.EXECUTIONS.labels(label).inc()
            metrics.EXECUTION_DURATION.labels(label).observe(time.perf_counter() - started)
            if span is not None:
                span.set_attribute("linkport.outcome", label)


async def _attempt(runner: Runner, claimed: ClaimedExecution) -> ExecutionStatus:
    """Run a claimed execution; whatever happens, its claim is released or its outcome
    recorded."""
    execution_id = claimed.execution.id
    try:
        return await _run(runner, claimed)
    except asyncio.CancelledError:
        # SIGTERM: arq hands the job back; release the row so it runs again at once,
        # resuming from its last checkpoint, instead of after the lease.
        await asyncio.shield(
            store.release_claim(
                runner.pool, execution_id=execution_id, attempts=claimed.execution.attempts
            )
        )
        raise
    except POSTGRES_OUTAGE_ERRORS:
        # The outcome cannot be recorded: hand the claim back as soon as Postgres answers,
        # so the execution runs again then (a new job), not when its lease runs out.
        if await asyncio.shield(_release_when_back(runner, claimed.execution)):
            return ExecutionStatus.PENDING
        raise
    except Exception as exc:  # a bug: retry like any transient failure
        log.exception("execution_crashed", execution_id=str(execution_id))
        return await _retry_or_fail(
            runner, claimed.execution, {"kind": "internal", "message": type(exc).__name__}
        )


async def _release_when_back(runner: Runner, execution: Execution) -> bool:
    """Release this claim once Postgres answers again, within the claim's lease (after it,
    anyone may claim the execution, so there is nothing left to release). Whether Postgres
    answered in time."""
    deadline = time.monotonic() + runner.settings.execution_lease
    delay = 0.1
    while time.monotonic() < deadline:
        try:
            if await store.release_claim(
                runner.pool, execution_id=execution.id, attempts=execution.attempts
            ):
                await queue.enqueue(
                    runner.redis, queue.execution_job(execution.id, execution.attempts)
                )
            return True
        except POSTGRES_OUTAGE_ERRORS:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)
    return False


@dataclass(frozen=True)
class StepCall:
    """Everything one step needs besides its definition: where it runs and against what."""

    execution: Execution
    connection: StoredConnection
    api_base: str | None
    from_catalog: bool  # the API base is the catalog's alone (no part an end user typed)
    app: App | None


async def _run(runner: Runner, claimed: ClaimedExecution) -> ExecutionStatus:
    execution, connection = claimed.execution, claimed.connection
    definition = claimed.definition
    if claimed.workflow_app is None or definition is None or connection is None:
        return await _finish(
            runner,
            execution,
            ExecutionStatus.FAILED,
            {"kind": "fatal", "message": "workflow, event or connection is gone"},
        )
    if not connection.connection.status.usable:  # needs_reauth, revoked: the user must act
        return await _finish(
            runner,
            execution,
            ExecutionStatus.NEEDS_REAUTH,
            {"kind": "unauthorized", "message": "the connection needs re-authorisation"},
        )
    call = _step_call(runner, execution, connection)
    calls = {claimed.workflow_app: call}
    context = _context(claimed, definition)
    steps = definition.steps
    for position, step in enumerate(steps):
        previous = claimed.checkpoints.get(step.id)
        if previous is not None and previous.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
            context["steps"][step.id] = previous.output  # never run a step twice
            continue
        outcome = await _run_step(runner, calls, step, position, context)
        if outcome.then == "retry":
            assert outcome.error is not None
            return await _retry_or_fail(
                runner, execution, outcome.error, retry_after=outcome.retry_after, step=outcome.run
            )
        if outcome.then != "next":
            final = ExecutionStatus(outcome.then)
            return await _finish(runner, execution, final, outcome.error, step=outcome.run)
        context["steps"][step.id] = outcome.run.output
        if position < len(steps) - 1:
            await store.checkpoint_step(runner.pool, execution_id=execution.id, step=outcome.run)
        else:  # the last step's outcome and the final state: one statement
            return await _finish(
                runner, execution, ExecutionStatus.SUCCEEDED, None, step=outcome.run
            )
    return await _finish(runner, execution, ExecutionStatus.SUCCEEDED, None)


def _step_call(runner: Runner, execution: Execution, connection: StoredConnection) -> StepCall:
    app = runner.credentials.catalog.get(connection.connection.app)
    base = app.api_base_url if app else None
    return StepCall(
        execution=execution,
        connection=connection,
        api_base=(
            fill(base, base_url=runner.settings.base_url, fields=connection.connection.fields)
            if base
            else None
        ),
        from_catalog=bool(base and not has_user_fields(base)),
        app=app,
    )


async def _call_for(runner: Runner, calls: dict[str, StepCall], app: str) -> StepCall | None:
    """Where a step of ``app`` runs: the workflow's own connection for its app; for another
    app (a workflow that also posts to Slack), the account's newest active connection to it,
    looked up once per run."""
    found = calls.get(app)
    if found is None:
        first = next(iter(calls.values()))
        connection = await connection_store.newest_active(
            runner.pool,
            tenant=first.execution.tenant,
            linked_account_id=first.execution.linked_account_id,
            app=app,
        )
        if connection is None:
            return None
        found = calls[app] = _step_call(runner, first.execution, connection)
    return found


def _context(claimed: ClaimedExecution, definition: WorkflowDefinition) -> dict[str, Any]:
    values: dict[str, Any] = {f.key: f.default for f in definition.fields}
    values.update(claimed.config_values)
    return {
        "event": claimed.payload,
        "config": values,
        "linked_account": {
            "id": claimed.execution.linked_account_id,
            "name": claimed.account_name,
            "metadata": claimed.account_metadata,
        },
        "steps": {},
    }


# After a step: the next step, a retry later, or a final state.
Then = Literal["next", "retry", "failed", "needs_reauth"]


@dataclass(frozen=True)
class StepOutcome:
    """How a step went, and what the execution does next: the next step, a retry, or stop in
    a final state."""

    run: StepRun
    then: Then
    error: dict[str, Any] | None = None
    retry_after: float | None = None


async def _run_step(
    runner: Runner,
    calls: dict[str, StepCall],
    step: StepSpec,
    position: int,
    context: dict[str, Any],
) -> StepOutcome:
    """Run one step (the caller records its outcome with whatever follows)."""
    started = datetime.now(UTC)
    action = ACTIONS[step.action]
    workflow_call = next(iter(calls.values()))

    def outcome(
        status: StepStatus,
        then: Then,
        input_: Any = None,
        output: Any = None,
        error: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> StepOutcome:
        # Scrubbed before it is stored: a provider echoing request headers must not leave
        # a token in the history.
        run = StepRun(
            step.id,
            position,
            status,
            scrub_secrets(input_),
            scrub_secrets(output),
            error,
            started,
            datetime.now(UTC),
        )
        return StepOutcome(run, then, error, retry_after)

    failed: Then = "failed"
    needs_reauth: Then = "needs_reauth"
    try:
        if step.when and not templates.condition_holds(step.when, context):
            return outcome(StepStatus.SKIPPED, "next")
        rendered = templates.render(step.input, context)
    except templates.TemplateFailed as exc:
        return outcome(StepStatus.FAILED, failed, error={"kind": "fatal", "message": str(exc)})
    try:
        data = action.input_model.model_validate(rendered)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        error = {"kind": "fatal", "message": f"input {where}: {first['msg']}"}
        return outcome(StepStatus.FAILED, failed, rendered, error=error)
    call = workflow_call if action.app is None else await _call_for(runner, calls, action.app)
    if call is None:
        error = {
            "kind": "unauthorized",
            "message": f"the linked account has no active {action.app} connection",
        }
        return outcome(StepStatus.FAILED, needs_reauth, rendered, error=error)

    try:
        output = await _call_action(runner, call, action_name=step.action, data=data, key=step.id)
        return outcome(StepStatus.SUCCEEDED, "next", rendered, output)
    except ReauthorizationNeeded as exc:
        return outcome(
            StepStatus.FAILED,
            needs_reauth,
            rendered,
            error={"kind": "unauthorized", "message": str(exc)},
        )
    except ActionError as exc:
        error = exc.as_dict()
        if exc.kind == "unauthorized":
            await mark_needs_reauth(
                runner.pool, connection=call.connection, reason="the app answered 401"
            )
            return outcome(StepStatus.FAILED, needs_reauth, rendered, error=error)
        if exc.kind == "retryable":
            return outcome(
                StepStatus.FAILED, "retry", rendered, error=error, retry_after=exc.retry_after
            )
        return outcome(StepStatus.FAILED, failed, rendered, error=error)
    except (BlockedDestination, ResponseTooLarge) as exc:
        error = {"kind": "fatal", "message": str(exc)}
        return outcome(StepStatus.FAILED, failed, rendered, error=error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = {"kind": "retryable", "message": f"network: {type(exc).__name__}"}
        return outcome(StepStatus.FAILED, "retry", rendered, error=error)


async def _call_action(
    runner: Runner, call: StepCall, *, action_name: str, data: Any, key: str
) -> Any:
    """Call the action with the connection's credentials; a 401 with a refresh token earns
    one refresh (shared with every other job on this connection) and one more try."""
    action = ACTIONS[action_name]
    source = runner.credentials
    creds = await current_credentials(
        source,
        tenant=call.execution.tenant,
        connection_id=call.execution.connection_id,
        loaded=call.connection,
    )
    ctx = ActionContext(
        creds,
        call.api_base,
        f"{call.execution.id}:{key}",
        source.http,
        from_catalog=action.app is not None and call.from_catalog,
        app=call.app,
        fields=call.connection.connection.fields,
    )
    try:
        return await action.run(ctx, data)
    except ActionError as exc:
        if exc.kind != "unauthorized" or not creds.get("refresh_token"):
            raise
    creds = await current_credentials(
        source,
        tenant=call.execution.tenant,
        connection_id=call.execution.connection_id,
        rejected_token=creds.get("access_token"),
    )
    return await action.run(ctx.with_credentials(creds), data)


async def _retry_or_fail(
    runner: Runner,
    execution: Execution,
    error: dict[str, Any],
    *,
    retry_after: float | None = None,
    step: StepRun | None = None,
) -> ExecutionStatus:
    settings = runner.settings
    attempt = execution.attempts
    if attempt >= settings.execution_max_attempts:
        final = {**error, "attempts": attempt, "final": True}
        return await _finish(runner, execution, ExecutionStatus.FAILED, final, step=step)
    delay = max(
        retry_after or 0.0,
        backoff(attempt, base=settings.retry_base_delay, ceiling=settings.retry_max_delay),
    )
    at = datetime.now(UTC) + timedelta(seconds=delay)
    await store.schedule_retry(
        runner.pool, execution_id=execution.id, at=at, error=error, step=step
    )
    await queue.enqueue(runner.redis, queue.execution_job(execution.id, attempt, defer_until=at))
    return ExecutionStatus.PENDING


async def _finish(
    runner: Runner,
    execution: Execution,
    status: ExecutionStatus,
    error: dict[str, Any] | None,
    *,
    step: StepRun | None = None,
) -> ExecutionStatus:
    await store.finish_execution(
        runner.pool, execution_id=execution.id, status=status, error=error, step=step
    )
    await webhooks.notify_execution_finished(
        pool=runner.pool, redis=runner.redis, execution=execution, status=status, error=error
    )
    log.info("execution_finished", execution_id=str(execution.id), status=status)
    return status


async def replay(
    *,
    pool: Pool,
    redis: ArqRedis,
    tenant: Tenant,
    execution_id: uuid.UUID,
    linked_account_id: str | None = None,
) -> Execution:
    """Run a ``failed`` or ``needs_reauth`` execution again from its failed step (limited to
    ``linked_account_id``'s when given): 404 when there is none, 409 when it did not fail."""
    if linked_account_id is not None:
        found = await store.get_execution(pool, tenant=tenant, execution_id=execution_id)
        if found is None or found.linked_account_id != linked_account_id:
            raise not_found("execution")
    execution = await store.reopen_execution(pool, tenant=tenant, execution_id=execution_id)
    if execution is None:
        if await store.get_execution(pool, tenant=tenant, execution_id=execution_id) is None:
            raise not_found("execution")
        raise ApiError(ErrorCode.CONFLICT, "only failed or needs_reauth executions can be replayed")
    await queue.enqueue(redis, queue.execution_job(execution_id, 0))
    return execution
