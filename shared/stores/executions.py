"""Executions and their step checkpoints: claimed atomically, so duplicate jobs do nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.db import Pool, Record
from shared.models.executions import ExecutionRead, StepRunRead
from shared.stores.pagination import decode_uuid_cursor, encode_cursor
from shared.tenancy import Tenant


async def claim_event(pool: Pool, *, event_id: uuid.UUID) -> Record | None:
    """The event, if it still waits for fan-out (counting the attempt), else None."""
    row: Record | None = await pool.fetchrow(
        """UPDATE events SET attempts = attempts + 1, next_attempt_at = now() + interval '30 seconds'
           WHERE id = $1 AND status = 'pending' RETURNING *""",
        event_id,
    )
    return row


async def fan_out_targets(pool: Pool, *, event: Record) -> list[Record]:
    """(workflow, connection, config) for every workflow the event must run: trigger matches,
    the account's config enables it (or it runs by default and no config says otherwise),
    and the account has an active connection to the workflow's app."""
    rows: list[Record] = await pool.fetch(
        """SELECT w.id AS workflow_id, c.id AS connection_id, cfg.id AS config_uuid
           FROM workflows w
           JOIN connections c ON c.client_id = w.client_id AND c.environment = w.environment
                              AND c.app = w.app AND c.linked_account_id = $4 AND c.status = 'active'
           LEFT JOIN LATERAL (
               SELECT id, enabled_workflows FROM configs
               WHERE client_id = w.client_id AND environment = w.environment AND linked_account_id = $4
                 AND app = w.app AND ($5::text IS NULL OR config_id = $5)
               ORDER BY (w.id = ANY (enabled_workflows)) DESC, (config_id = 'default') DESC, created_at
               LIMIT 1) cfg ON true
           WHERE w.client_id = $1 AND w.environment = $2 AND w.trigger_event = $3
             AND (w.id = ANY (coalesce(cfg.enabled_workflows, '{}'))
                  OR (cfg.id IS NULL AND $5::text IS NULL AND (w.definition ->> 'default_enabled')::boolean))""",
        event["client_id"],
        event["environment"],
        event["name"],
        event["linked_account_id"],
        event["config_id"],
    )
    return rows


async def create_executions(pool: Pool, *, event: Record, targets: list[Record]) -> list[uuid.UUID]:
    """One execution per (event, workflow), and the event marked fanned out, in one transaction.
    Returns the ids of executions created now (running fan-out twice creates nothing new)."""
    async with pool.acquire() as conn, conn.transaction():
        created = await conn.fetch(
            """INSERT INTO executions (id, client_id, environment, event_id, workflow_id, linked_account_id,
                                       connection_id, config_id, status)
               SELECT gen_random_uuid(), $1, $2, $3, t.workflow_id, $4, t.connection_id, t.config_uuid, 'pending'
               FROM unnest($5::uuid[], $6::uuid[], $7::uuid[]) AS t(workflow_id, connection_id, config_uuid)
               ON CONFLICT (event_id, workflow_id) DO NOTHING RETURNING id""",
            event["client_id"],
            event["environment"],
            event["id"],
            event["linked_account_id"],
            [t["workflow_id"] for t in targets],
            [t["connection_id"] for t in targets],
            [t["config_uuid"] for t in targets],
        )
        await conn.execute(
            "UPDATE events SET status = 'fanned_out', fanned_out_at = now() WHERE id = $1",
            event["id"],
        )
    return [r["id"] for r in created]


async def claim_execution(
    pool: Pool, *, execution_id: uuid.UUID, lease_seconds: float
) -> Record | None:
    """Take an execution to run: it must be due, or running under an expired lease (its worker
    died). Exactly one claimer wins; the attempt is counted."""
    row: Record | None = await pool.fetchrow(
        """UPDATE executions SET status = 'running', attempts = attempts + 1,
               lease_until = now() + make_interval(secs => $2), updated_at = now()
           WHERE id = $1 AND ((status = 'pending' AND next_attempt_at <= now() + interval '1 second')
                              OR (status = 'running' AND lease_until < now()))
           RETURNING *""",
        execution_id,
        lease_seconds,
    )
    return row


async def finish_execution(
    pool: Pool, *, execution_id: uuid.UUID, status: str, error: dict[str, Any] | None
) -> None:
    """Record a final state."""
    await pool.execute(
        """UPDATE executions SET status = $2, error = $3, lease_until = NULL, updated_at = now(),
               finished_at = now() WHERE id = $1""",
        execution_id,
        status,
        error,
    )


async def release_claim(pool: Pool, *, execution_id: uuid.UUID) -> None:
    """Hand an interrupted execution back (due now), without waiting for its lease to run out."""
    await pool.execute(
        """UPDATE executions SET status = 'pending', next_attempt_at = now(), lease_until = NULL, updated_at = now()
           WHERE id = $1 AND status = 'running'""",
        execution_id,
    )


async def schedule_retry(
    pool: Pool, *, execution_id: uuid.UUID, at: datetime, error: dict[str, Any]
) -> None:
    """Back to pending, due at ``at``."""
    await pool.execute(
        """UPDATE executions SET status = 'pending', next_attempt_at = $2, error = $3, lease_until = NULL,
               updated_at = now() WHERE id = $1""",
        execution_id,
        at,
        error,
    )


async def step_checkpoints(pool: Pool, *, execution_id: uuid.UUID) -> dict[str, Record]:
    """The recorded steps of an execution, by step id."""
    rows = await pool.fetch("SELECT * FROM step_runs WHERE execution_id = $1", execution_id)
    return {r["step_id"]: r for r in rows}


async def checkpoint_step(
    pool: Pool,
    *,
    execution_id: uuid.UUID,
    step_id: str,
    position: int,
    status: str,
    input_: Any,
    output: Any,
    error: Any,
    started_at: datetime,
    finished_at: datetime,
) -> None:
    """Record a step's outcome (its attempts counted across retries)."""
    await pool.execute(
        """INSERT INTO step_runs (execution_id, step_id, position, status, input, output, error, attempts,
                                  started_at, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)
           ON CONFLICT (execution_id, step_id) DO UPDATE SET status = EXCLUDED.status, input = EXCLUDED.input,
               output = EXCLUDED.output, error = EXCLUDED.error, attempts = step_runs.attempts + 1,
               started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at""",
        execution_id,
        step_id,
        position,
        status,
        input_,
        output,
        error,
        started_at,
        finished_at,
    )


async def due_work(pool: Pool, *, limit: int, grace: float) -> tuple[list[Record], list[Record]]:
    """Events waiting for fan-out and executions to run that have been due for ``grace``
    seconds (their job should have started by now), and executions whose lease ran out."""
    events = await pool.fetch(
        """SELECT id, attempts FROM events
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
    return list(events), list(executions)


def _execution_read(row: Record, steps: list[StepRunRead] | None = None) -> ExecutionRead:
    return ExecutionRead(
        id=str(row["id"]),
        event_id=str(row["event_id"]),
        workflow_id=str(row["workflow_id"]),
        linked_account_id=row["linked_account_id"],
        connection_id=str(row["connection_id"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        steps=steps,
    )


async def get_execution(pool: Pool, *, tenant: Tenant, execution_id: uuid.UUID) -> Record | None:
    """One of the tenant's executions (a row), or None."""
    row: Record | None = await pool.fetchrow(
        "SELECT * FROM executions WHERE id = $1 AND client_id = $2 AND environment = $3",
        execution_id,
        tenant.client_id,
        tenant.environment,
    )
    return row


async def execution_with_steps(pool: Pool, *, row: Record, redact: Any) -> ExecutionRead:
    """An execution with its step records (``redact`` blanks secrets in input/output)."""
    steps = await pool.fetch(
        "SELECT * FROM step_runs WHERE execution_id = $1 ORDER BY position", row["id"]
    )
    return _execution_read(
        row,
        [
            StepRunRead(
                step_id=s["step_id"],
                status=s["status"],
                input=redact(s["input"]),
                output=redact(s["output"]),
                error=s["error"],
                attempts=s["attempts"],
                started_at=s["started_at"],
                finished_at=s["finished_at"],
                duration_ms=round((s["finished_at"] - s["started_at"]).total_seconds() * 1000, 2),
            )
            for s in steps
        ],
    )


async def list_executions(
    pool: Pool,
    *,
    tenant: Tenant,
    limit: int,
    cursor: str | None,
    status: str | None,
    event_id: uuid.UUID | None,
    workflow_id: uuid.UUID | None,
    linked_account_id: str | None,
) -> tuple[list[ExecutionRead], str | None]:
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
    items = [_execution_read(r) for r in rows[:limit]]
    return items, encode_cursor(items[-1].id) if len(rows) > limit else None


async def executions_of_event(pool: Pool, *, event_id: uuid.UUID) -> list[Record]:
    """The executions an event started."""
    return list(
        await pool.fetch(
            "SELECT id, workflow_id, status FROM executions WHERE event_id = $1 ORDER BY created_at, id",
            event_id,
        )
    )


async def reopen_execution(pool: Pool, *, tenant: Tenant, execution_id: uuid.UUID) -> Record | None:
    """A failed (or re-authorised) execution back to pending, due now, for a replay."""
    row: Record | None = await pool.fetchrow(
        """UPDATE executions SET status = 'pending', next_attempt_at = now(), error = NULL, finished_at = NULL,
               attempts = 0, updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3 AND status IN ('failed', 'needs_reauth')
           RETURNING *""",
        execution_id,
        tenant.client_id,
        tenant.environment,
    )
    return row
