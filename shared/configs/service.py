"""Configs: per linked account and app, the field values and which workflows run."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.accounts import service as accounts
from shared.caches import Caches
from shared.configs import store
from shared.configs.models import Config
from shared.configs.schemas import ConfigRead, ConfigUpdate
from shared.connections import store as connection_store
from shared.connectors.catalog import Catalog
from shared.errors import invalid, not_found
from shared.infra.db import Pool
from shared.tenancy import Tenant
from shared.workflows import store as workflow_store
from shared.workflows.service import field_value_problem


async def _read(pool: Pool, tenant: Tenant, config: Config) -> ConfigRead:
    workflows = await workflow_store.list_workflows(pool, tenant=tenant, app=config.app)
    return ConfigRead.of(config, workflows)


async def find_or_create(
    *,
    pool: Pool,
    caches: Caches,
    catalog: Catalog,
    tenant: Tenant,
    linked_account_id: str,
    app: str,
    config_id: str | None,
) -> tuple[ConfigRead, bool]:
    """The account's config for the app (``config_id`` default "default"), created when new."""
    if app not in catalog:
        raise invalid("app", f"app: unknown app {app!r}")
    await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=linked_account_id
    )
    config, created = await store.find_or_create_config(
        pool,
        tenant=tenant,
        linked_account_id=linked_account_id,
        app=app,
        config_id=config_id or "default",
    )
    return await _read(pool, tenant, config), created


async def find(
    *, pool: Pool, tenant: Tenant, linked_account_id: str, app: str, config_id: str | None
) -> ConfigRead:
    """The account's config for the app by its config id (default "default"); 404 when none."""
    config = await store.find_config(
        pool,
        tenant=tenant,
        linked_account_id=linked_account_id,
        app=app,
        config_id=config_id or "default",
    )
    if config is None:
        raise not_found("config", field="config_id")
    return await _read(pool, tenant, config)


async def _own(
    pool: Pool, *, tenant: Tenant, config_uuid: uuid.UUID, linked_account_id: str | None
) -> Config:
    config = await store.get_config(pool, tenant=tenant, config_uuid=config_uuid)
    if config is None or linked_account_id not in (None, config.linked_account_id):
        raise not_found("config")
    return config


async def get(
    *, pool: Pool, tenant: Tenant, config_uuid: uuid.UUID, linked_account_id: str | None
) -> ConfigRead:
    """A config (limited to ``linked_account_id``'s when one is given)."""
    config = await _own(
        pool, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
    )
    return await _read(pool, tenant, config)


async def update(
    *,
    pool: Pool,
    tenant: Tenant,
    config_uuid: uuid.UUID,
    linked_account_id: str | None,
    body: ConfigUpdate,
) -> ConfigRead:
    """Save field values, enabled workflows and the pinned connection, checked against the
    app's workflows' fields and the account's connections (422 when it names another
    account's or app's connection)."""
    config = await _own(
        pool, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
    )
    workflows = {
        str(w.id): w
        for w in await workflow_store.list_workflows(pool, tenant=tenant, app=config.app)
    }
    values: dict[str, Any] = body.fields if body.fields is not None else config.field_values
    enabled = (
        body.enabled_workflows
        if body.enabled_workflows is not None
        else [str(w) for w in config.enabled_workflows]
    )
    for i, workflow_id in enumerate(enabled):
        if workflow_id not in workflows:
            raise invalid(
                f"enabled_workflows.{i}",
                f"enabled_workflows.{i}: no workflow {workflow_id} for {config.app}",
            )
    specs = {f.key: f for w in workflows.values() for f in w.definition.fields}
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None:
            raise invalid(
                f"fields.{key}", f"fields.{key}: no workflow of {config.app} has this field"
            )
        problem = field_value_problem(spec, value)
        if problem:
            raise invalid(f"fields.{key}", f"fields.{key}: {problem}")
    for workflow_id in enabled:
        for spec in workflows[workflow_id].definition.fields:
            if spec.required and values.get(spec.key) is None and spec.default is None:
                raise invalid(
                    f"fields.{spec.key}",
                    f"fields.{spec.key}: required by workflow {workflows[workflow_id].name!r}",
                )
    pinned = config.connection_id
    if "connection_id" in body.model_fields_set:
        pinned = body.connection_id
        if pinned is not None:
            await _check_pin(pool, tenant=tenant, config=config, connection_id=pinned)
    try:
        updated = await store.update_config(
            pool,
            tenant=tenant,
            config_uuid=config.id,
            field_values=values,
            enabled=[uuid.UUID(w) for w in enabled],
            connection_id=pinned,
        )
    except asyncpg.ForeignKeyViolationError:  # the pinned connection was deleted meanwhile
        raise invalid("connection_id", f"connection_id: no connection {pinned}") from None
    assert updated is not None
    return ConfigRead.of(updated, list(workflows.values()))


async def _check_pin(
    pool: Pool, *, tenant: Tenant, config: Config, connection_id: uuid.UUID
) -> None:
    """A config may pin only a connection of its own account to its own app."""
    found = await connection_store.get_connection(pool, tenant=tenant, connection_id=connection_id)
    if (
        found is None
        or found.connection.linked_account_id != config.linked_account_id
        or found.connection.app != config.app
    ):
        raise invalid(
            "connection_id",
            f"connection_id: no connection {connection_id} of this linked account to {config.app}",
        )


async def delete(
    *, pool: Pool, tenant: Tenant, config_uuid: uuid.UUID, linked_account_id: str | None
) -> None:
    """Delete a config (limited to ``linked_account_id``'s when one is given)."""
    config = await _own(
        pool, tenant=tenant, config_uuid=config_uuid, linked_account_id=linked_account_id
    )
    await store.delete_config(pool, tenant=tenant, config_uuid=config.id)
