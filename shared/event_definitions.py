"""Event definitions: a name and a JSON Schema (or a sample to infer one from), versioned."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from shared.errors import invalid, not_found
from shared.resources import Resources
from shared.stores import events as store
from shared.stores.events import Definition
from shared.tenancy import Tenant

_VALIDATORS: dict[tuple[Any, ...], Draft202012Validator] = {}
_MAX_CACHED = 10_000


def infer_schema(sample: Any) -> dict[str, Any]:
    """A JSON Schema that the sample satisfies: types and the keys it has (all required)."""
    if isinstance(sample, bool):
        return {"type": "boolean"}
    if isinstance(sample, int):
        return {"type": "integer"}
    if isinstance(sample, float):
        return {"type": "number"}
    if isinstance(sample, str):
        return {"type": "string"}
    if sample is None:
        return {"type": "null"}
    if isinstance(sample, list):
        return {"type": "array", "items": infer_schema(sample[0])} if sample else {"type": "array"}
    return {
        "type": "object",
        "properties": {key: infer_schema(value) for key, value in sample.items()},
        "required": sorted(sample),
    }


async def save_definition(
    res: Resources,
    *,
    tenant: Tenant,
    name: str,
    schema: dict[str, Any] | None,
    sample: dict[str, Any] | None,
) -> tuple[Definition, bool]:
    """Store a new version unless the schema is the same as the latest: (definition, changed)."""
    if schema is None:
        assert sample is not None
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **infer_schema(sample)}
    else:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise invalid("schema", f"schema: not a valid JSON Schema ({exc.message})") from None
    latest = await store.latest_definition(res.pool, tenant=tenant, name=name)
    if latest is not None and latest.schema == schema:
        return latest, False
    return await store.add_definition_version(
        res.pool, tenant=tenant, name=name, schema=schema
    ), True


async def latest(res: Resources, *, tenant: Tenant, name: str, field: str = "event") -> Definition:
    """The newest version, or a 404 naming ``field``."""
    found = await store.latest_definition(res.pool, tenant=tenant, name=name)
    if found is None:
        raise not_found(f"event definition {name!r}", field=field)
    return found


def _path(parts: Any) -> str:
    return ".".join(["payload", *(str(p) for p in parts)])


def payload_problem(tenant: Tenant, definition: Definition, payload: Any) -> tuple[str, str] | None:
    """(path, message) of the first way the payload breaks the schema, or None when it fits."""
    key = (tenant.client_id, tenant.environment, definition.name, definition.version)
    validator = _VALIDATORS.get(key)
    if validator is None:
        if len(_VALIDATORS) >= _MAX_CACHED:
            _VALIDATORS.clear()
        validator = _VALIDATORS[key] = Draft202012Validator(definition.schema)
    error = next(
        iter(sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))), None
    )
    if error is None:
        return None
    return _path(error.absolute_path), error.message
