"""Configs: their SQL."""

from __future__ import annotations

import uuid
from typing import Any

from shared.configs.models import Config
from shared.infra.db import Pool, Record
from shared.tenancy import Tenant


def _config(row: Record) -> Config:
    return Config(
        id=row["id"],
        linked_account_id=row["linked_account_id"],
        app=row["app"],
        config_id=row["config_id"],
        field_values=row["field_values"],
        enabled_workflows=list(row["enabled_workflows"]),
        connection_id=row["connection_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def find_or_create_config(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str, config_id: str
) -> tuple[Config, bool]:
    """The account's config for the app with that config id, created when new: (config, created)."""
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
        return _config(row), True
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
    return _config(existing), False


async def find_config(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, app: str, config_id: str
) -> Config | None:
    """The account's config for the app with that config id, or None."""
    row = await pool.fetchrow(
        """SELECT * FROM configs WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
           AND app = $4 AND config_id = $5""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        app,
        config_id,
    )
    return None if row is None else _config(row)


async def get_config(pool: Pool, *, tenant: Tenant, config_uuid: uuid.UUID) -> Config | None:
    """One of the tenant's configs, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM configs WHERE id = $1 AND client_id = $2 AND environment = $3",
        config_uuid,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _config(row)


async def update_config(
    pool: Pool,
    *,
    tenant: Tenant,
    config_uuid: uuid.UUID,
    field_values: dict[str, Any],
    enabled: list[uuid.UUID],
    connection_id: uuid.UUID | None,
) -> Config | None:
    """Replace a config's values, enabled workflows and pinned connection."""
    row = await pool.fetchrow(
        """UPDATE configs SET field_values = $4, enabled_workflows = $5, connection_id = $6,
               updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING *""",
        config_uuid,
        tenant.client_id,
        tenant.environment,
        field_values,
        enabled,
        connection_id,
    )
    return None if row is None else _config(row)


async def delete_config(pool: Pool, *, tenant: Tenant, config_uuid: uuid.UUID) -> bool:
    """Delete a config; False when there was none."""
    deleted = await pool.fetchval(
        "DELETE FROM configs WHERE id = $1 AND client_id = $2 AND environment = $3 RETURNING 1",
        config_uuid,
        tenant.client_id,
        tenant.environment,
    )
    return deleted is not None
