"""Workflows: checked whole when saved, so a saved workflow can always be run."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from shared.caches import Caches
from shared.connectors import ACTIONS
from shared.connectors.catalog import Catalog
from shared.errors import invalid, not_found
from shared.events import definitions as event_definitions
from shared.infra.db import Pool
from shared.tenancy import Tenant
from shared.workflows import store
from shared.workflows import templates as workflow_templates
from shared.workflows.models import FieldSpec, FieldType, StepSpec, Workflow, WorkflowDefinition
from shared.workflows.schemas import WorkflowCreate


def _required_inputs(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.is_required()]


def _check_fields(fields: list[FieldSpec]) -> None:
    seen: set[str] = set()
    for i, field in enumerate(fields):
        if field.key in seen:
            raise invalid(f"fields.{i}.key", f"fields.{i}.key: {field.key!r} is declared twice")
        seen.add(field.key)
        if field.type is FieldType.SELECT and not field.options:
            raise invalid(
                f"fields.{i}.options", f"fields.{i}.options: a select field needs options"
            )
        problem = None if field.default is None else field_value_problem(field, field.default)
        if problem:
            raise invalid(f"fields.{i}.default", f"fields.{i}.default: {problem}")


def field_value_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why ``value`` does not fit a field definition, or None."""
    kind = spec.type
    if kind is FieldType.TEXT and not isinstance(value, str):
        return "must be text"
    if kind is FieldType.NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    if kind is FieldType.BOOLEAN and not isinstance(value, bool):
        return "must be true or false"
    if kind is FieldType.SELECT and value not in (spec.options or []):
        return f"must be one of {spec.options}"
    return None


def _check_steps(definition: WorkflowDefinition) -> None:
    earlier: set[str] = set()
    config_keys = {f.key for f in definition.fields}
    for i, step in enumerate(definition.steps):
        where = f"steps.{i}"
        if step.id in earlier:
            raise invalid(f"{where}.id", f"{where}.id: {step.id!r} is used by an earlier step")
        action = ACTIONS.get(step.action)
        if action is None:
            raise invalid(
                f"{where}.action",
                f"{where}.action: unknown action {step.action!r} (known: {', '.join(sorted(ACTIONS))})",
            )
        # A step may act in another app than the workflow's (create the contact in HubSpot,
        # then tell Slack): it runs on the account's newest active connection to that app.
        for name in _required_inputs(action.input_model):
            if name not in step.input:
                raise invalid(
                    f"{where}.input.{name}", f"{where}.input.{name}: required by {step.action}"
                )
        if action.input_model.model_config.get("extra") == "forbid":
            known = {f.alias or n for n, f in action.input_model.model_fields.items()}
            for name in step.input:
                if name not in known:
                    raise invalid(
                        f"{where}.input.{name}",
                        f"{where}.input.{name}: {step.action} has no such input",
                    )
        try:
            workflow_templates.check_value(
                step.input, earlier_steps=earlier, config_keys=config_keys, path=f"{where}.input"
            )
        except workflow_templates.TemplateProblem as exc:
            field = str(exc).split(":", 1)[0]
            raise invalid(field, str(exc)) from None
        if step.when is not None:
            try:
                workflow_templates.check(
                    step.when, expression=True, earlier_steps=earlier, config_keys=config_keys
                )
            except workflow_templates.TemplateProblem as exc:
                raise invalid(f"{where}.when", f"{where}.when: {exc}") from None
        earlier.add(step.id)


def _definition(body: WorkflowCreate) -> WorkflowDefinition:
    return WorkflowDefinition(
        fields=[FieldSpec(**f.model_dump()) for f in body.fields],
        steps=[StepSpec(**s.model_dump()) for s in body.steps],
        default_enabled=body.default_enabled,
    )


async def save_workflow(
    *,
    pool: Pool,
    caches: Caches,
    catalog: Catalog,
    tenant: Tenant,
    body: WorkflowCreate,
    workflow_id: uuid.UUID | None = None,
) -> Workflow:
    """Validate the whole definition, then create it or replace ``workflow_id``."""
    if body.app not in catalog:
        raise invalid("app", f"app: unknown app {body.app!r}")
    await event_definitions.latest(
        pool=pool, caches=caches, tenant=tenant, name=body.trigger.event, field="trigger.event"
    )
    definition = _definition(body)
    _check_fields(definition.fields)
    _check_steps(definition)
    saved = await store.save_workflow(
        pool,
        tenant=tenant,
        workflow_id=workflow_id,
        name=body.name,
        app=body.app,
        trigger_event=body.trigger.event,
        definition=definition,
    )
    if saved is None:
        raise not_found("workflow")
    return saved
