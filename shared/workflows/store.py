"""Workflows and per-account configs."""

from __future__ import annotations

import uuid
from typing import Any

from shared.configs.schemas import ConfigRead, ConfigWorkflow
from shared.infra.db import Pool, Record
from shared.tenancy import Tenant
from shared.workflows.schemas import WorkflowRead


def workflow_read(row: Record) -> WorkflowRead:
    """A workflow row as the API shows it."""
    definition = row["definition"]
    return WorkflowRead(
        id=str(row["id"]),
        name=row["name"],
        app=row["app"],
        trigger={"event": row["trigger_event"]},
        fields=definition["fields"],
        steps=definition["steps"],
        default_enabled=definition.get("default_enabled", False),
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
    definition: dict[str, Any],
) -> WorkflowRead | None:
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
            definition,
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
            definition,
        )
    return None if row is None else workflow_read(row)


async def get_workflow(
    pool: Pool, *, tenant: Tenant, workflow_id: uuid.UUID
) -> WorkflowRead | None:
    """One of the tenant's workflows, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM workflows WHERE id = $1 AND client_id = $2 AND environment = $3",
        workflow_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else workflow_read(row)


async def list_workflows(
    pool: Pool, *, tenant: Tenant, app: str | None = None
) -> list[WorkflowRead]:
    """The tenant's workflows (optionally of one app), oldest first."""
    rows = await pool.fetch(
        """SELECT * FROM workflows WHERE client_id = $1 AND environment = $2 AND ($3::text IS NULL OR app = $3)
           ORDER BY created_at, id""",
        tenant.client_id,
        tenant.environment,
        app,
    )
    return [workflow_read(r) for r in rows]


async def delete_workflow(pool: Pool, *, tenant: Tenant, workflow_id: uuid.UUID) -> bool:
    """Delete a workflow (its executions go with it); False when there was none."""
    deleted = await pool.fetchval(
        "DELETE FROM workflows WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING 1",
        workflow_id,
        tenant.client_id,
        tenant.environment,
    )
    return deleted is not None


def config_read(row: Record, workflows: list[WorkflowRead]) -> ConfigRead:
    """A config row, with its app's workflows, as the API shows it."""
    enabled = {str(w) for w in row["enabled_workflows"]}
    return ConfigRead(
        id=str(row["id"]),
        linked_account_id=row["linked_account_id"],
        app=row["app"],
        config_id=row["config_id"],
        fields=row["field_values"],
        enabled_workflows=sorted(enabled),
        workflows=[
            ConfigWorkflow(id=w.id, name=w.name, enabled=w.id in enabled, fields=w.fields)
            for w in workflows
        ],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def find_or_create_config(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str, config_id: str
) -> tuple[Record, bool]:
    """The account's config for the app with that config id, created when new: (row, created)."""
    row = await pool.fetchrow(
        """INSERT INTO configs (id, client_id, environment, linked_account_id, app, config_id)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (client_id, environment, linked_account_id, app, config_id) DO NOTHING RETURNING *""",
        uuid.uuid4(),
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
        config_id,
    )
    if row is not None:
        return row, True
    existing = await pool.fetchrow(
        """SELECT * FROM configs WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
           AND app = $4 AND config_id = $5""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
        config_id,
    )
    assert existing is not None
    return existing, False


async def get_config(pool: Pool, *, tenant: Tenant, config_uuid: uuid.UUID) -> Record | None:
    """One of the tenant's configs (a row), or None."""
    row: Record | None = await pool.fetchrow(
        "SELECT * FROM configs WHERE id = $1 AND client_id = $2 AND environment = $3",
        config_uuid,
        tenant.client_id,
        tenant.environment,
    )
    return row


async def update_config(
    pool: Pool,
    *,
    tenant: Tenant,
    config_uuid: uuid.UUID,
    field_values: dict[str, Any],
    enabled: list[uuid.UUID],
) -> Record | None:
    """Replace a config's values and enabled workflows."""
    row: Record | None = await pool.fetchrow(
        """UPDATE configs SET field_values = $4, enabled_workflows = $5, updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING *""",
        config_uuid,
        tenant.client_id,
        tenant.environment,
        field_values,
        enabled,
    )
    return row


async def delete_config(pool: Pool, *, tenant: Tenant, config_uuid: uuid.UUID) -> bool:
    """Delete a config; False when there was none."""
    deleted = await pool.fetchval(
        "DELETE FROM configs WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING 1",
        config_uuid,
        tenant.client_id,
        tenant.environment,
    )
    return deleted is not None
