"""Event definitions: a name and a JSON Schema (or a sample to infer one from), versioned."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from redis.asyncio import Redis

from shared import caches as invalidation
from shared.caches import Caches, Invalidation
from shared.errors import invalid, not_found
from shared.events import store
from shared.events.models import EventDefinition
from shared.infra.cache import TtlCache
from shared.infra.db import Pool
from shared.tenancy import Tenant

# Compiled validators by (tenant, name, version): a version never changes, so entries never go
# stale; the least recently used goes first when full.
_VALIDATORS: TtlCache[tuple[Any, ...], jsonschema_rs.Draft202012Validator] = TtlCache(
    ttl=None, max_entries=10_000
)


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    """A compiled validator. Offline: a ``$ref`` to anything outside the schema is an error,
    never a request (jsonschema-rs would fetch remote references by default)."""
    return jsonschema_rs.Draft202012Validator(schema, offline=True)


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
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    tenant: Tenant,
    name: str,
    schema: dict[str, Any] | None,
    sample: dict[str, Any] | None,
) -> tuple[EventDefinition, bool]:
    """Store a new version unless the schema is the same as the latest: (definition, changed)."""
    if schema is None:
        assert sample is not None
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **infer_schema(sample)}
    else:
        try:
            jsonschema_rs.meta.validate(schema)
            _validator(schema)
        except jsonschema_rs.ValidationError as exc:
            reason = str(exc).splitlines()[0]
            raise invalid("schema", f"schema: not a valid JSON Schema ({reason})") from None
    latest = await store.latest_definition(pool, tenant=tenant, name=name)
    if latest is not None and latest.schema == schema:
        return latest, False
    added = await store.add_definition_version(pool, tenant=tenant, name=name, schema=schema)
    await invalidation.publish(
        redis,
        caches,
        Invalidation(
            kind="definition", client_id=tenant.client_id, environment=tenant.environment, name=name
        ),
    )
    return added, True


async def latest(
    *, pool: Pool, caches: Caches, tenant: Tenant, name: str, field: str = "event"
) -> EventDefinition:
    """The newest version (cached; a new version evicts it on every gateway), or a 404
    naming ``field``."""
    key = (tenant.client_id, tenant.environment, name)
    found = caches.definitions.get(key)
    if found is None:
        found = await store.latest_definition(pool, tenant=tenant, name=name)
        if found is None:
            raise not_found(f"event definition {name!r}", field=field)
        caches.definitions.put(key, found)
    return found


def _path(parts: Any) -> str:
    return ".".join(["payload", *(str(p) for p in parts)])


def payload_problem(
    tenant: Tenant, definition: EventDefinition, payload: Any
) -> tuple[str, str] | None:
    """(path, message) of the first way the payload breaks the schema, or None when it fits."""
    key = (tenant.client_id, tenant.environment, definition.name, definition.version)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = _validator(definition.schema)
        _VALIDATORS.put(key, validator)
    if validator.is_valid(payload):
        return None
    error = min(validator.iter_errors(payload), key=lambda e: [str(p) for p in e.instance_path])
    return _path(error.instance_path), error.message
