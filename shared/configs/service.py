"""Configs: per linked account and app, the field values and which workflows run."""

from __future__ import annotations

import uuid
from typing import Any

from shared.accounts import service as accounts
from shared.configs.schemas import ConfigRead, ConfigUpdate
from shared.errors import invalid, not_found
from shared.infra.db import Record
from shared.infra.resources import Resources
from shared.tenancy import Tenant
from shared.workflows import store
from shared.workflows.service import field_value_problem


async def _read(res: Resources, tenant: Tenant, row: Record) -> ConfigRead:
    workflows = await store.list_workflows(res.pool, tenant=tenant, app=row["app"])
    return store.config_read(row, workflows)


async def find_or_create(
    res: Resources, *, tenant: Tenant, linked_account_id: str, app: str, config_id: str | None
) -> tuple[ConfigRead, bool]:
    """The account's config for the app (``config_id`` default "default"), created when new."""
    if app not in res.catalog:
        raise invalid("app", f"app: unknown app {app!r}")
    await accounts.require_account(
        pool=res.pool, caches=res.caches, tenant=tenant, linked_account_id=linked_account_id
    )
    row, created = await store.find_or_create_config(
        res.pool,
        tenant=tenant,
        linked_account_id=linked_account_id,
        app=app,
        config_id=config_id or "default",
    )
    return await _read(res, tenant, row), created


async def _own(
    res: Resources, *, tenant: Tenant, config_uuid: str, linked_account_id: str | None
) -> Record:
    try:
        parsed = uuid.UUID(config_uuid)
    except ValueError:
        raise not_found("config") from None
    row = await store.get_config(res.pool, tenant=tenant, config_uuid=parsed)
    if row is None or (
        linked_account_id is not None and row["linked_account_id"] != linked_account_id
    ):
        raise not_found("config")
    return row


async def get(
    res: Resources, *, tenant: Tenant, config_uuid: str, linked_account_id: str | None
) -> ConfigRead:
    """A config (a session may read only its own account's)."""
    return await _read(
        res,
        tenant,
        await _own(
            res, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
        ),
    )


async def update(
    res: Resources,
    *,
    tenant: Tenant,
    config_uuid: str,
    linked_account_id: str | None,
    body: ConfigUpdate,
) -> ConfigRead:
    """Save field values and enabled workflows, checked against the app's workflows' fields."""
    row = await _own(
        res, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
    )
    workflows = {
        w.id: w for w in await store.list_workflows(res.pool, tenant=tenant, app=row["app"])
    }
    values: dict[str, Any] = body.fields if body.fields is not None else row["field_values"]
    enabled = (
        body.enabled_workflows
        if body.enabled_workflows is not None
        else [str(w) for w in row["enabled_workflows"]]
    )
    for i, workflow_id in enumerate(enabled):
        if workflow_id not in workflows:
            raise invalid(
                f"enabled_workflows.{i}",
                f"enabled_workflows.{i}: no workflow {workflow_id} for {row['app']}",
            )
    specs: dict[str, dict[str, Any]] = {f["key"]: f for w in workflows.values() for f in w.fields}
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None:
            raise invalid(
                f"fields.{key}", f"fields.{key}: no workflow of {row['app']} has this field"
            )
        problem = field_value_problem(spec, value)
        if problem:
            raise invalid(f"fields.{key}", f"fields.{key}: {problem}")
    for workflow_id in enabled:
        for spec in workflows[workflow_id].fields:
            if (
                spec.get("required")
                and values.get(spec["key"]) is None
                and spec.get("default") is None
            ):
                raise invalid(
                    f"fields.{spec['key']}",
                    f"fields.{spec['key']}: required by workflow {workflows[workflow_id].name!r}",
                )
    updated = await store.update_config(
        res.pool,
        tenant=tenant,
        config_uuid=row["id"],
        field_values=values,
        enabled=[uuid.UUID(w) for w in enabled],
    )
    assert updated is not None
    return store.config_read(updated, list(workflows.values()))


async def delete(
    res: Resources, *, tenant: Tenant, config_uuid: str, linked_account_id: str | None
) -> None:
    """Delete a config (a session only its own account's)."""
    row = await _own(
        res, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
    )
    await store.delete_config(res.pool, tenant=tenant, config_uuid=row["id"])
