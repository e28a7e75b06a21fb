"""Workflows: checked whole when saved, so a saved workflow can always be run."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from shared.connectors import ACTIONS
from shared.errors import invalid, not_found
from shared.events import definitions as event_definitions
from shared.infra.resources import Resources
from shared.tenancy import Tenant
from shared.workflows import store
from shared.workflows import templates as workflow_templates
from shared.workflows.schemas import WorkflowCreate, WorkflowRead


def _required_inputs(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.is_required()]


def _check_fields(body: WorkflowCreate) -> None:
    seen: set[str] = set()
    for i, field in enumerate(body.fields):
        if field.key in seen:
            raise invalid(f"fields.{i}.key", f"fields.{i}.key: {field.key!r} is declared twice")
        seen.add(field.key)
        if field.type == "select" and not field.options:
            raise invalid(
                f"fields.{i}.options", f"fields.{i}.options: a select field needs options"
            )
        if field.default is not None and field_value_problem(field.model_dump(), field.default):
            raise invalid(
                f"fields.{i}.default",
                f"fields.{i}.default: {field_value_problem(field.model_dump(), field.default)}",
            )


def field_value_problem(spec: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` does not fit a field definition, or None."""
    kind = spec.get("type", "text")
    if kind == "text" and not isinstance(value, str):
        return "must be text"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    if kind == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    if kind == "select" and value not in (spec.get("options") or []):
        return f"must be one of {spec.get('options')}"
    return None


def _check_steps(body: WorkflowCreate) -> None:
    earlier: set[str] = set()
    config_keys = {f.key for f in body.fields}
    for i, step in enumerate(body.steps):
        where = f"steps.{i}"
        if step.id in earlier:
            raise invalid(f"{where}.id", f"{where}.id: {step.id!r} is used by an earlier step")
        action = ACTIONS.get(step.action)
        if action is None:
            raise invalid(
                f"{where}.action",
                f"{where}.action: unknown action {step.action!r} (known: {', '.join(sorted(ACTIONS))})",
            )
        if action.app not in (None, body.app):
            raise invalid(
                f"{where}.action",
                f"{where}.action: {step.action} belongs to the {action.app} app, not {body.app}",
            )
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


async def save_workflow(
    res: Resources, *, tenant: Tenant, body: WorkflowCreate, workflow_id: uuid.UUID | None = None
) -> WorkflowRead:
    """Validate the whole definition, then create it or replace ``workflow_id``."""
    if body.app not in res.catalog:
        raise invalid("app", f"app: unknown app {body.app!r}")
    await event_definitions.latest(
        res, tenant=tenant, name=body.trigger.event, field="trigger.event"
    )
    _check_fields(body)
    _check_steps(body)
    definition = {
        "fields": [f.model_dump() for f in body.fields],
        "steps": [s.model_dump() for s in body.steps],
        "default_enabled": body.default_enabled,
    }
    saved = await store.save_workflow(
        res.pool,
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
