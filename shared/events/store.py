"""Event definitions (versioned schemas) and events (durable before any job exists)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.events.models import Event, EventDefinition, EventStatus, NewEvent, StoredEvent
from shared.infra.db import Pool, Record
from shared.tenancy import Tenant


def _definition(row: Record) -> EventDefinition:
    return EventDefinition(row["name"], row["version"], row["schema"], row["created_at"])


async def latest_definition(pool: Pool, *, tenant: Tenant, name: str) -> EventDefinition | None:
    """The newest version of a definition, or None."""
    row = await pool.fetchrow(
        """SELECT * FROM event_definitions WHERE client_id = $1 AND environment = $2 AND name = $3
           ORDER BY version DESC LIMIT 1""",
        tenant.client_id,
        tenant.environment,
        name,
    )
    return None if row is None else _definition(row)


async def add_definition_version(
    pool: Pool, *, tenant: Tenant, name: str, schema: dict[str, Any]
) -> EventDefinition:
    """Store ``schema`` as the next version of ``name`` (concurrent saves: one wins, the other retries)."""
    row = await pool.fetchrow(
        """INSERT INTO event_definitions (id, client_id, environment, name, version, schema)
           SELECT $1, $2, $3, $4, coalesce(max(version), 0) + 1, $5 FROM event_definitions
           WHERE client_id = $2 AND environment = $3 AND name = $4
           RETURNING *""",
        uuid.uuid4(),
        tenant.client_id,
        tenant.environment,
        name,
        schema,
    )
    assert row is not None
    return _definition(row)


async def list_definitions(pool: Pool, *, tenant: Tenant) -> list[EventDefinition]:
    """The latest version of every definition, by name."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (name) * FROM event_definitions WHERE client_id = $1 AND environment = $2
           ORDER BY name, version DESC""",
        tenant.client_id,
        tenant.environment,
    )
    return [_definition(r) for r in rows]


async def definition_versions(pool: Pool, *, tenant: Tenant, name: str) -> list[EventDefinition]:
    """Every version of one definition, newest first."""
    rows = await pool.fetch(
        """SELECT * FROM event_definitions WHERE client_id = $1 AND environment = $2 AND name = $3
           ORDER BY version DESC""",
        tenant.client_id,
        tenant.environment,
        name,
    )
    return [_definition(r) for r in rows]


_COLUMNS = (
    "id, client_id, environment, name, definition_version, linked_account_id, config_id, payload, "
    "idempotency_key, request_hash, status, trace_context"
)


def _values(tenant: Tenant, e: NewEvent) -> tuple[Any, ...]:
    return (
        e.id,
        tenant.client_id,
        tenant.environment,
        e.name,
        e.definition_version,
        e.linked_account_id,
        e.config_id,
        e.payload,
        e.idempotency_key,
        e.request_hash,
        EventStatus.PENDING,
        e.trace_context,
    )


async def insert_event(pool: Pool, *, tenant: Tenant, event: NewEvent) -> StoredEvent:
    """Store the event, unless its idempotency key was used (then: the earlier event)."""
    row = await pool.fetchrow(
        f"""INSERT INTO events ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (client_id, environment, idempotency_key) DO NOTHING RETURNING id""",  # noqa: S608
        *_values(tenant, event),
    )
    if row is not None:
        return StoredEvent(row["id"], event.request_hash, created=True)
    existing = await pool.fetchrow(
        """SELECT id, request_hash FROM events
           WHERE client_id = $1 AND environment = $2 AND idempotency_key = $3""",
        tenant.client_id,
        tenant.environment,
        event.idempotency_key,
    )
    assert existing is not None
    return StoredEvent(existing["id"], existing["request_hash"], created=False)


async def insert_events(
    pool: Pool, *, tenant: Tenant, events: list[NewEvent]
) -> list[tuple[uuid.UUID, bool]]:
    """Store a batch in one statement (so one transaction); (id, created) per event, in order.

    Idempotency keys must be distinct within the batch (the caller checks): a key seen
    before returns the earlier event's id.
    """
    rows = await pool.fetch(
        f"""WITH incoming AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[],
                                     $6::jsonb[], $7::text[], $8::bytea[], $11::text[])
                    WITH ORDINALITY AS t(id, name, version, account, config_id, payload, key, hash,
                                         trace_context, n)),
            inserted AS (
                INSERT INTO events ({_COLUMNS})
                SELECT id, $9::uuid, $10::text, name, version, account, config_id, payload, key, hash, 'pending',
                       trace_context
                FROM incoming ORDER BY n
                ON CONFLICT (client_id, environment, idempotency_key) DO NOTHING
                RETURNING id)
            SELECT i.n, coalesce(ins.id, old.id) AS id, ins.id IS NOT NULL AS created
            FROM incoming i
            LEFT JOIN inserted ins ON ins.id = i.id
            LEFT JOIN events old ON ins.id IS NULL AND old.client_id = $9 AND old.environment = $10
                                 AND old.idempotency_key = i.key
            ORDER BY i.n""",  # noqa: S608
        [e.id for e in events],
        [e.name for e in events],
        [e.definition_version for e in events],
        [e.linked_account_id for e in events],
        [e.config_id for e in events],
        [e.payload for e in events],
        [e.idempotency_key for e in events],
        [e.request_hash for e in events],
        tenant.client_id,
        tenant.environment,
        [e.trace_context for e in events],
    )
    return [(r["id"], r["created"]) for r in rows]


async def get_event(pool: Pool, *, tenant: Tenant, event_id: uuid.UUID) -> Event | None:
    """One of the tenant's events, or None."""
    row = await pool.fetchrow(
        """SELECT id, name, definition_version, linked_account_id, config_id, payload, status,
                  created_at
           FROM events WHERE id = $1 AND client_id = $2 AND environment = $3""",
        event_id,
        tenant.client_id,
        tenant.environment,
    )
    if row is None:
        return None
    return Event(
        id=row["id"],
        name=row["name"],
        definition_version=row["definition_version"],
        linked_account_id=row["linked_account_id"],
        config_id=row["config_id"],
        payload=row["payload"],
        status=EventStatus(row["status"]),
        created_at=row["created_at"],
    )
