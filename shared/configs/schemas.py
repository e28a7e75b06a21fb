"""Per linked account and app: the values of workflow fields and which workflows run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from shared.configs.models import Config
from shared.schemas import ExternalId, RequestModel, ResponseModel, Slug
from shared.workflows.models import Workflow


class ConfigFind(RequestModel):
    """Find the account's config for an app, or create it (``config_id`` defaults to "default")."""

    linked_account_id: ExternalId | None = Field(
        default=None, description="implied by a session token"
    )
    app: Slug
    config_id: ExternalId | None = None


class ConfigUpdate(RequestModel):
    """New field values, the workflows to run and the connection they use (each replaces the
    old value when given)."""

    fields: dict[str, Any] | None = None
    enabled_workflows: Annotated[list[str], Field(max_length=200)] | None = None
    connection_id: uuid.UUID | None = Field(
        default=None,
        description="the account's connection to the app its workflows use; null: its newest "
        "active one (given as null, unpins)",
    )


class ConfigWorkflow(ResponseModel):
    """A workflow of the app, as a frontend renders it in the config form."""

    id: str
    name: str
    enabled: bool
    fields: list[dict[str, Any]]

    @classmethod
    def of(cls, workflow: Workflow, *, enabled: bool) -> ConfigWorkflow:
        """A workflow as the config form shows it."""
        return cls(
            id=str(workflow.id),
            name=workflow.name,
            enabled=enabled,
            fields=workflow.definition.to_stored()["fields"],
        )


class ConfigRead(ResponseModel):
    """A config with what a frontend needs to render and save it."""

    id: str
    linked_account_id: str
    app: str
    config_id: str
    fields: dict[str, Any]
    enabled_workflows: list[str]
    connection_id: str | None = Field(
        default=None, description="the pinned connection; null: the newest active one is used"
    )
    workflows: list[ConfigWorkflow]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, config: Config, workflows: list[Workflow]) -> ConfigRead:
        """A config, with its app's workflows, as the API shows it."""
        enabled = set(config.enabled_workflows)
        return cls(
            id=str(config.id),
            linked_account_id=config.linked_account_id,
            app=config.app,
            config_id=config.config_id,
            fields=config.field_values,
            enabled_workflows=sorted(str(w) for w in enabled),
            connection_id=None if config.connection_id is None else str(config.connection_id),
            workflows=[ConfigWorkflow.of(w, enabled=w.id in enabled) for w in workflows],
            created_at=config.created_at,
            updated_at=config.updated_at,
        )
