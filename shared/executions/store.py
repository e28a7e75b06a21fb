"""Executions and their step checkpoints: claimed atomically, so duplicate jobs do nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.connections import store as connection_store
from shared.executions.models import (
    Checkpoint,
    ClaimedExecution,
    DueWork,
    Execution,
    ExecutionListing,
    ExecutionStatus,
    StepRecord,
    StepRun,
    StepStatus,
)
from shared.infra.db import Pool, Record
from shared.infra.pagination import decode_uuid_cursor, page
from shared.tenancy import Tenant
from shared.workflows.models import WorkflowDefinition


async def fan_out_events(
    pool: Pool,
    *,
    event_ids: Sequence[uuid.UUID],
    trace_contexts: Sequence[str | None] | None = None,
) -> list[uuid.UUID]:
    """Fan out those of the events that still wait: one execution per workflow each must run,
    and the events marked fanned out, in one statement (so one transaction). Returns the ids
    of executions created now; running it twice creates nothing new.

    A workflow runs for an event when its trigger matches, the account has an active
    connection to its app, and the account's config enables it (or no config exists, no
    ``config_id`` was given, and the workflow runs by default). With a ``config_id`` only
    that config counts. The execution uses the connection the config pins (none when that
    one is not active), else the account's newest active connection to the app. ``trace_contexts`` (one per event, tracing on): what each event's
    executions keep as theirs (the fan-out span's traceparent); else the event's own.
    """
    rows = await pool.fetch(
        """WITH due AS (
               UPDATE events SET status = 'fanned_out', attempts = attempts + 1, fanned_out_at = now()
               WHERE id = ANY ($1::uuid[]) AND status = 'pending'
               RETURNING id, client_id, environment, name, linked_account_id, config_id, trace_context),
           targets AS (
               SELECT due.id AS event_id, due.client_id, due.environment, due.linked_account_id,
                      w.id AS workflow_id, c.id AS connection_id, cfg.id AS config_uuid,
                      coalesce(tc.trace_context, due.trace_context) AS trace_context
               FROM due
               LEFT JOIN unnest($1::uuid[], $2::text[]) AS tc(id, trace_context) ON tc.id = due.id
               JOIN workflows w ON w.client_id = due.client_id AND w.environment = due.environment
                               AND w.trigger_event = due.name
               LEFT JOIN LATERAL (
                   SELECT id, enabled_workflows, connection_id FROM configs
                   WHERE client_id = w.client_id AND environment = w.environment
                     AND linked_account_id = due.linked_account_id AND app = w.app
                     AND (due.config_id IS NULL OR config_id = due.config_id)
                   ORDER BY (w.id = ANY (enabled_workflows)) DESC, (config_id = 'default') DESC, created_at
                   LIMIT 1) cfg ON true
               JOIN LATERAL (
                   SELECT id FROM connections
                   WHERE client_id = w.client_id AND environment = w.environment
                     AND linked_account_id = due.linked_account_id AND app = w.app
                     AND status = 'active' AND (cfg.connection_id IS NULL OR id = cfg.connection_id)
                   ORDER BY created_at DESC, id DESC
                   LIMIT 1) c ON true
               WHERE w.id = ANY (coalesce(cfg.enabled_workflows, '{}'))
                  OR (cfg.id IS NULL AND due.config_id IS NULL
                      AND (w.definition ->> 'default_enabled')::boolean))
           INSERT INTO executions (id, client_id, environment, event_id, workflow_id, linked_account_id,
                                   connection_id, config_id, status, trace_context)
           SELECT gen_random_uuid(), client_id, environment, event_id, workflow_id, linked_account_id,
                  connection_id, config_uuid, 'pending', trace_context
           FROM targets
           ON CONFLICT (event_id, workflow_id) DO NOTHING
           RETURNING id""",
        list(event_ids),
        None if trace_contexts is None else list(trace_contexts),
    )
    return [r["id"] for r in rows]


async def event_trace_contexts(
    pool: Pool, *, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """The trace context each pending event was ingested in (asked only while tracing is on)."""
    rows = await pool.fetch(
        "SELECT id, trace_context FROM events WHERE id = ANY ($1::uuid[]) AND status = 'pending'",
        list(event_ids),
    )
    return {r["id"]: r["trace_context"] for r in rows}


async def claim_execution(
    pool: Pool, *, execution_id: uuid.UUID, lease_seconds: float
) -> ClaimedExecution | None:
    """Take an execution to run: it must be due, or running under an expired lease (its worker
    died). Exactly one claimer wins; the attempt is counted. Returns it with its workflow,
    event payload, config values, account, connection and checkpoints, or None."""
    row = await pool.fetchrow(
        f"""WITH claimed AS (
                UPDATE executions SET status = 'running', attempts = attempts + 1,
                    lease_until = now() + make_interval(secs => $2), updated_at = now()
                WHERE id = $1 AND ((status = 'pending' AND next_attempt_at <= now() + interval '1 second')
                                   OR (status = 'running' AND lease_until < now()))
                RETURNING *)
            SELECT x.*, w.app AS workflow_app, w.definition AS workflow_definition,
                   e.payload AS event_payload, cfg.field_values AS config_values,
                   a.name AS account_name, a.metadata AS account_metadata,
                   {connection_store.stored_columns("cn", "connection_")},
                   (SELECT jsonb_object_agg(s.step_id, jsonb_build_object('status', s.status, 'output', s.output))
                    FROM step_runs s WHERE s.execution_id = x.id) AS checkpoints
            FROM claimed x
            LEFT JOIN workflows w ON w.id = x.workflow_id
            LEFT JOIN events e ON e.id = x.event_id
            LEFT JOIN configs cfg ON cfg.id = x.config_id
            LEFT JOIN linked_accounts a ON a.client_id = x.client_id AND a.environment = x.environment
                                       AND a.linked_account_id = x.linked_account_id
            LEFT JOIN connections cn ON cn.id = x.connection_id AND cn.client_id = x.client_id
                                    AND cn.environment = x.environment""",  # noqa: S608
        execution_id,
        lease_seconds,
    )
    if row is None:
        return None
    return ClaimedExecution(
        execution=_execution(row),
        workflow_app=row["workflow_app"],
        definition=(
            WorkflowDefinition.from_stored(row["workflow_definition"])
            if row["workflow_definition"]
            else None
        ),
        payload=row["event_payload"] or {},
        config_values=row["config_values"] or {},
        account_name=row["account_name"],
        account_metadata=row["account_metadata"] or {},
        connection=connection_store.stored_from(row, "connection_"),
        checkpoints={
            step_id: Checkpoint(StepStatus(c["status"]), c["output"])
            for step_id, c in (row["checkpoints"] or {}).items()
        },
    )


def _execution(row: Record) -> Execution:
    return Execution(
        id=row["id"],
        tenant=Tenant(row["client_id"], row["environment"]),
        event_id=row["event_id"],
        workflow_id=row["workflow_id"],
        linked_account_id=row["linked_account_id"],
        connection_id=row["connection_id"],
        config_id=row["config_id"],
        status=ExecutionStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        trace_context=row["trace_context"],
    )


# Upserts the step given as $2..$9 of execution $1; with $2 NULL it records nothing. Every
# statement below starts with it, so a step's outcome and the execution state that follows
# from it are one transaction.
_RECORD_STEP = """INSERT INTO step_runs (execution_id, step_id, position, status, input, output, error,
                                        attempts, started_at, finished_at)
    SELECT $1, $2::text, $3::int, $4::text, $5::jsonb, $6::jsonb, $7::jsonb, 1, $8::timestamptz,
           $9::timestamptz
    WHERE $2::text IS NOT NULL
    ON CONFLICT (execution_id, step_id) DO UPDATE SET status = EXCLUDED.status,
        input = EXCLUDED.input, output = EXCLUDED.output, error = EXCLUDED.error,
        attempts = step_runs.attempts + 1, started_at = EXCLUDED.started_at,
        finished_at = EXCLUDED.finished_at"""


def _step_args(step: StepRun | None) -> tuple[Any, ...]:
    if step is None:
        return (None,) * 8
    return (
        step.step_id,
        step.position,
        step.status,
        step.input,
        step.output,
        step.error,
        step.started_at,
        step.finished_at,
    )


async def checkpoint_step(pool: Pool, *, execution_id: uuid.UUID, step: StepRun) -> None:
    """Record a step's outcome; the execution goes on to its next step."""
    await pool.execute(_RECORD_STEP, execution_id, *_step_args(step))


async def finish_execution(
    pool: Pool,
    *,
    execution_id: uuid.UUID,
    status: ExecutionStatus,
    error: dict[str, Any] | None,
    step: StepRun | None = None,
) -> None:
    """Record a final state, and the outcome of the step that decided it."""
    await pool.execute(
        f"""WITH step AS ({_RECORD_STEP})
            UPDATE executions SET status = $10, error = $11, lease_until = NULL, updated_at = now(),
                finished_at = now() WHERE id = $1""",  # noqa: S608
        execution_id,
        *_step_args(step),
        status,
        error,
    )


async def schedule_retry(
    pool: Pool,
    *,
    execution_id: uuid.UUID,
    at: datetime,
    error: dict[str, Any],
    step: StepRun | None = None,
) -> None:
    """Back to pending, due at ``at``, and the outcome of the step that failed."""
    await pool.execute(
        f"""WITH step AS ({_RECORD_STEP})
            UPDATE executions SET status = 'pending', next_attempt_at = $10, error = $11,
                lease_until = NULL, updated_at = now() WHERE id = $1""",  # noqa: S608
        execution_id,
        *_step_args(step),
        at,
        error,
    )


async def release_claim(pool: Pool, *, execution_id: uuid.UUID, attempts: int) -> bool:
    """Hand an interrupted execution back (due now), without waiting for its lease to run out;
    only the claim of that attempt (a later claimer's is not ours to release). Whether it was
    released."""
    released = await pool.fetchval(
        """UPDATE executions SET status = 'pending', next_attempt_at = now(), lease_until = NULL, updated_at = now()
           WHERE id = $1 AND status = 'running' AND attempts = $2 RETURNING 1""",
        execution_id,
        attempts,
    )
    return released is not None


async def due_work(pool: Pool, *, limit: int, grace: float) -> DueWork:
    """Events waiting for fan-out and executions to run that have been due for ``grace``
    seconds (their job should have started by now), and executions whose lease ran out."""
    events = await pool.fetch(
        """SELECT id FROM events
           WHERE status = 'pending' AND next_attempt_at <= now() - make_interval(secs => $2)
           ORDER BY next_attempt_at LIMIT $1""",
        limit,
        grace,
    )
    executions = await pool.fetch(
        """(SELECT id, attempts FROM executions
            WHERE status = 'pending' AND next_attempt_at <= now() - make_interval(secs => $2)
            ORDER BY next_attempt_at LIMIT $1)
           UNION ALL
           (SELECT id, attempts FROM executions WHERE status = 'running' AND lease_until < now()
            ORDER BY lease_until LIMIT $1)""",
        limit,
        grace,
    )
    return DueWork([e["id"] for e in events], [(x["id"], x["attempts"]) for x in executions])


async def get_execution(pool: Pool, *, tenant: Tenant, execution_id: uuid.UUID) -> Execution | None:
    """One of the tenant's executions, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM executions WHERE id = $1 AND client_id = $2 AND environment = $3",
        execution_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _execution(row)


async def step_records(pool: Pool, *, execution_id: uuid.UUID) -> list[StepRecord]:
    """An execution's recorded steps, in workflow order."""
    rows = await pool.fetch(
        "SELECT * FROM step_runs WHERE execution_id = $1 ORDER BY position", execution_id
    )
    return [
        StepRecord(
            step_id=r["step_id"],
            status=StepStatus(r["status"]),
            input=r["input"],
            output=r["output"],
            error=r["error"],
            attempts=r["attempts"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
        )
        for r in rows
    ]


async def list_executions(
    pool: Pool,
    *,
    tenant: Tenant,
    limit: int,
    cursor: str | None,
    status: ExecutionStatus | None,
    event_id: uuid.UUID | None,
    workflow_id: uuid.UUID | None,
    linked_account_id: str | None,
) -> tuple[list[Execution], str | None]:
    """A page of the tenant's executions, filtered, ordered by id."""
    rows = await pool.fetch(
        """SELECT * FROM executions WHERE client_id = $1 AND environment = $2
             AND ($3::uuid IS NULL OR id > $3) AND ($4::text IS NULL OR status = $4)
             AND ($5::uuid IS NULL OR event_id = $5) AND ($6::uuid IS NULL OR workflow_id = $6)
             AND ($7::text IS NULL OR linked_account_id = $7)
           ORDER BY id LIMIT $8""",
        tenant.client_id,
        tenant.environment,
        decode_uuid_cursor(cursor),
        status,
        event_id,
        workflow_id,
        linked_account_id,
        limit + 1,
    )
    return page([_execution(r) for r in rows], limit=limit, key=lambda e: e.id)


async def numbered_page(
    pool: Pool,
    *,
    tenant: Tenant,
    offset: int,
    limit: int,
    statuses: Sequence[ExecutionStatus] | None = None,
    execution_id: uuid.UUID | None = None,
    workflow_id: uuid.UUID | None = None,
    app: str | None = None,
    linked_account_id: str | None = None,
    oldest_first: bool = False,
) -> tuple[list[ExecutionListing], int]:
    """Executions ``offset`` to ``offset + limit`` (newest first unless ``oldest_first``), with
    their workflow's name and app and their config's name, and how many match in all."""
    rows = await pool.fetch(
        f"""SELECT x.*, w.name AS workflow_name, w.app AS workflow_app,
                   cfg.config_id AS config_name, count(*) OVER () AS total
            FROM executions x
            LEFT JOIN workflows w ON w.id = x.workflow_id
            LEFT JOIN configs cfg ON cfg.id = x.config_id
            WHERE x.client_id = $1 AND x.environment = $2
              AND ($3::text[] IS NULL OR x.status = ANY ($3))
              AND ($4::uuid IS NULL OR x.id = $4) AND ($5::uuid IS NULL OR x.workflow_id = $5)
              AND ($6::text IS NULL OR w.app = $6) AND ($7::text IS NULL OR x.linked_account_id = $7)
            ORDER BY x.created_at {"ASC" if oldest_first else "DESC"}, x.id
            OFFSET $8 LIMIT $9""",  # noqa: S608 - the order is one of two constants
        tenant.client_id,
        tenant.environment,
        None if statuses is None else [str(s) for s in statuses],
        execution_id,
        workflow_id,
        app,
        linked_account_id,
        offset,
        limit,
    )
    listed = [
        ExecutionListing(_execution(r), r["workflow_name"], r["workflow_app"], r["config_name"])
        for r in rows
    ]
    if rows or offset == 0:
        return listed, rows[0]["total"] if rows else 0
    # Past the last page: count without fetching.
    _, total = await numbered_page(
        pool,
        tenant=tenant,
        offset=0,
        limit=1,
        statuses=statuses,
        execution_id=execution_id,
        workflow_id=workflow_id,
        app=app,
        linked_account_id=linked_account_id,
    )
    return [], total


async def executions_of_event(pool: Pool, *, event_id: uuid.UUID) -> list[Execution]:
    """The executions an event started."""
    rows = await pool.fetch(
        "SELECT * FROM executions WHERE event_id = $1 ORDER BY created_at, id", event_id
    )
    return [_execution(r) for r in rows]


async def reopen_execution(
    pool: Pool, *, tenant: Tenant, execution_id: uuid.UUID
) -> Execution | None:
    """A failed (or re-authorised) execution back to pending, due now, for a replay."""
    row = await pool.fetchrow(
        """UPDATE executions SET status = 'pending', next_attempt_at = now(), error = NULL, finished_at = NULL,
               attempts = 0, updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3 AND status IN ('failed', 'needs_reauth')
           RETURNING *""",
        execution_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _execution(row)
