"""Workflows: their SQL."""

from __future__ import annotations

import uuid

from shared.infra.db import Pool, Record
from shared.tenancy import Tenant
from shared.workflows.models import Workflow, WorkflowDefinition


def _workflow(row: Record) -> Workflow:
    return Workflow(
        id=row["id"],
        name=row["name"],
        app=row["app"],
        trigger_event=row["trigger_event"],
        definition=WorkflowDefinition.from_stored(row["definition"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def save_workflow(
    pool: Pool,
    *,
    tenant: Tenant,
    workflow_id: uuid.UUID | None,
    name: str,
    app: str,
    trigger_event: str,
    definition: WorkflowDefinition,
) -> Workflow | None:
    """Create (no id) or replace a workflow; None when replacing one the tenant does not have."""
    if workflow_id is None:
        row = await pool.fetchrow(
            """INSERT INTO workflows (id, client_id, environment, name, app, trigger_event, definition)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
            uuid.uuid4(),
            tenant.client_id,
            tenant.environment,
            name,
            app,
            trigger_event,
            definition.to_stored(),
        )
    else:
        row = await pool.fetchrow(
            """UPDATE workflows SET name = $4, app = $5, trigger_event = $6, definition = $7, updated_at = now()
               WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING *""",
            workflow_id,
            tenant.client_id,
            tenant.environment,
            name,
            app,
            trigger_event,
            definition.to_stored(),
        )
    return None if row is None else _workflow(row)


async def get_workflow(pool: Pool, *, tenant: Tenant, workflow_id: uuid.UUID) -> Workflow | None:
    """One of the tenant's workflows, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM workflows WHERE id = $1 AND client_id = $2 AND environment = $3",
        workflow_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _workflow(row)


async def list_workflows(pool: Pool, *, tenant: Tenant, app: str | None = None) -> list[Workflow]:
    """The tenant's workflows (optionally of one app), oldest first."""
    rows = await pool.fetch(
        """SELECT * FROM workflows WHERE client_id = $1 AND environment = $2 AND ($3::text IS NULL OR app = $3)
           ORDER BY created_at, id""",
        tenant.client_id,
        tenant.environment,
        app,
    )
    return [_workflow(r) for r in rows]


async def delete_workflow(pool: Pool, *, tenant: Tenant, workflow_id: uuid.UUID) -> bool:
    """Delete a workflow (its executions go with it); False when there was none."""
    deleted = await pool.fetchval(
        "DELETE FROM workflows WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING 1",
        workflow_id,
        tenant.client_id,
        tenant.environment,
    )
    return deleted is not None
