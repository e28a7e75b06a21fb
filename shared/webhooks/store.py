"""Webhook endpoints, messages, deliveries and attempts: the SQL, returning ``models`` types.

A message and its deliveries are written in one statement; a delivery is claimed for an
attempt under its endpoint's row lock (so the number in flight per endpoint is exact), and
an attempt is recorded with the state that follows from it in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.infra.crypto import Sealed
from shared.infra.db import AnyConnection, Pool, Record
from shared.infra.pagination import decode_uuid_cursor, encode_cursor
from shared.tenancy import Tenant
from shared.webhooks.envelopes import ExecutionFacts
from shared.webhooks.models import (
    Attempt,
    AttemptOutcome,
    Claim,
    ClaimedDelivery,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointChanges,
    EndpointFormat,
    EndpointSecrets,
    EventLogEntry,
    Message,
    MessageStatus,
    WebhookEventType,
)

Executor = Pool | AnyConnection


class Row(Protocol):
    """A row's columns by name (an asyncpg Record, or a prefixed view of one)."""

    def __getitem__(self, key: str, /) -> Any: ...


def _endpoint(row: Row) -> Endpoint:
    types = row["event_types"]
    return Endpoint(
        id=row["id"],
        tenant=Tenant(row["client_id"], row["environment"]),
        url=row["url"],
        description=row["description"],
        event_types=None if types is None else tuple(WebhookEventType(t) for t in types),
        format=EndpointFormat(row["format"]),
        enabled=row["enabled"],
        disabled_reason=DisabledReason(row["disabled_reason"]) if row["disabled_reason"] else None,
        disabled_at=row["disabled_at"],
        failing_since=row["failing_since"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _secrets(row: Row) -> EndpointSecrets:
    previous = None
    if row["previous_secret"] is not None:
        previous = Sealed(
            row["previous_secret"], row["previous_secret_nonce"], row["previous_secret_key_id"]
        )
    return EndpointSecrets(
        Sealed(row["secret"], row["secret_nonce"], row["secret_key_id"]),
        previous,
        row["previous_secret_expires_at"],
    )


def _message(row: Record, prefix: str = "") -> Message:
    return Message(
        id=row[prefix + "id"],
        tenant=Tenant(row["client_id"], row["environment"]),
        type=WebhookEventType(row[prefix + "type"]),
        payload=row[prefix + "payload"],
        created_at=row[prefix + "created_at"],
    )


def _delivery(row: Record) -> Delivery:
    status = DeliveryStatus(row["status"])
    return Delivery(
        id=row["id"],
        tenant=Tenant(row["client_id"], row["environment"]),
        message_id=row["message_id"],
        endpoint_id=row["endpoint_id"],
        event_type=WebhookEventType(row["message_type"]),
        status=status,
        attempts=row["attempts"],
        round_start=row["round_start"],
        next_attempt_at=row["next_attempt_at"]
        if status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        else None,
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --- endpoints ---------------------------------------------------------------------------


async def create_endpoint(
    pool: Pool,
    *,
    endpoint_id: uuid.UUID,
    tenant: Tenant,
    url: str,
    description: str | None,
    event_types: Sequence[WebhookEventType] | None,
    format: EndpointFormat,
    secret: Sealed,
) -> Endpoint:
    """Store a new endpoint with its sealed secret."""
    row = await pool.fetchrow(
        """INSERT INTO webhook_endpoints (id, client_id, environment, url, description, event_types,
                                         format, secret, secret_nonce, secret_key_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
        url,
        description,
        None if event_types is None else list(event_types),
        format,
        secret.ciphertext,
        secret.nonce,
        secret.key_id,
    )
    assert row is not None
    return _endpoint(row)


async def get_endpoint(pool: Pool, *, tenant: Tenant, endpoint_id: uuid.UUID) -> Endpoint | None:
    """One of the tenant's endpoints, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM webhook_endpoints WHERE id = $1 AND client_id = $2 AND environment = $3",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _endpoint(row)


async def list_endpoints(
    pool: Pool, *, tenant: Tenant, limit: int, cursor: str | None
) -> tuple[list[Endpoint], str | None]:
    """A page of the tenant's endpoints, ordered by id."""
    rows = await pool.fetch(
        """SELECT * FROM webhook_endpoints WHERE client_id = $1 AND environment = $2
             AND ($3::uuid IS NULL OR id > $3) ORDER BY id LIMIT $4""",
        tenant.client_id,
        tenant.environment,
        decode_uuid_cursor(cursor),
        limit + 1,
    )
    items = [_endpoint(r) for r in rows[:limit]]
    return items, encode_cursor(str(items[-1].id)) if len(rows) > limit else None


async def update_endpoint(
    pool: Pool, *, tenant: Tenant, endpoint_id: uuid.UUID, changes: EndpointChanges
) -> Endpoint | None:
    """Apply the given changes. Enabling clears why it was disabled and its failure streak;
    disabling an enabled endpoint records that the client did it."""
    given = changes.given
    row = await pool.fetchrow(
        """UPDATE webhook_endpoints SET
               url = CASE WHEN $4 THEN $5 ELSE url END,
               description = CASE WHEN $6 THEN $7 ELSE description END,
               event_types = CASE WHEN $8 THEN $9::text[] ELSE event_types END,
               format = CASE WHEN $10 THEN $11 ELSE format END,
               enabled = coalesce($12, enabled),
               disabled_reason = CASE WHEN $12 THEN NULL
                                      WHEN NOT $12 AND enabled THEN 'manual'
                                      ELSE disabled_reason END,
               disabled_at = CASE WHEN $12 THEN NULL
                                  WHEN NOT $12 AND enabled THEN now()
                                  ELSE disabled_at END,
               failing_since = CASE WHEN $12 THEN NULL ELSE failing_since END,
               updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3
           RETURNING *""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
        "url" in given,
        changes.url,
        "description" in given,
        changes.description,
        "event_types" in given,
        None if changes.event_types is None else list(changes.event_types),
        "format" in given,
        changes.format,
        changes.enabled if "enabled" in given else None,
    )
    return None if row is None else _endpoint(row)


async def endpoint_secrets(
    pool: Pool, *, tenant: Tenant, endpoint_id: uuid.UUID
) -> EndpointSecrets | None:
    """An endpoint's sealed secrets, or None when it is not the tenant's."""
    row = await pool.fetchrow(
        """SELECT secret, secret_nonce, secret_key_id, previous_secret, previous_secret_nonce,
                  previous_secret_key_id, previous_secret_expires_at
           FROM webhook_endpoints WHERE id = $1 AND client_id = $2 AND environment = $3""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _secrets(row)


async def rotate_secret(
    pool: Pool, *, tenant: Tenant, endpoint_id: uuid.UUID, secret: Sealed, overlap: float
) -> Endpoint | None:
    """Make ``secret`` the current one; the current one signs beside it for ``overlap`` seconds."""
    row = await pool.fetchrow(
        """UPDATE webhook_endpoints SET
               previous_secret = secret, previous_secret_nonce = secret_nonce,
               previous_secret_key_id = secret_key_id,
               previous_secret_expires_at = now() + make_interval(secs => $7),
               secret = $4, secret_nonce = $5, secret_key_id = $6, updated_at = now()
           WHERE id = $1 AND client_id = $2 AND environment = $3
           RETURNING *""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
        secret.ciphertext,
        secret.nonce,
        secret.key_id,
        overlap,
    )
    return None if row is None else _endpoint(row)


async def delete_endpoint(pool: Pool, *, tenant: Tenant, endpoint_id: uuid.UUID) -> bool:
    """Delete an endpoint with its deliveries and attempts (messages stay in the event log)."""
    deleted = await pool.fetchval(
        """DELETE FROM webhook_endpoints WHERE id = $1 AND client_id = $2 AND environment = $3
           RETURNING 1""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
    )
    return deleted is not None


# --- messages ----------------------------------------------------------------------------

# Endpoint ``e`` takes messages of type $4 (opt-in: $5) when it names the type, or names
# none and the type is not opt-in.
_SUBSCRIBED = "($4 = ANY (e.event_types) OR (e.event_types IS NULL AND NOT $5::boolean))"


async def insert_message(
    db: Executor,
    *,
    message: Message,
    opt_in: bool,
    formats: Sequence[EndpointFormat],
    dedupe_key: str | None = None,
) -> list[uuid.UUID]:
    """Record a message, and a pending delivery for each enabled endpoint that subscribes to
    its type in a format that has a shape for it, in one statement. The message is kept
    only when some endpoint (enabled or not) subscribes, so the event log can show what a
    disabled endpoint missed; a message whose ``dedupe_key`` exists is not recorded again.
    Returns the ids of the deliveries created."""
    rows = await db.fetch(
        f"""WITH msg AS (
                INSERT INTO webhook_messages (id, client_id, environment, type, payload, dedupe_key, created_at)
                SELECT $1, $2, $3, $4, $6, $7, $8
                WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                              WHERE e.client_id = $2 AND e.environment = $3 AND {_SUBSCRIBED})
                ON CONFLICT (client_id, environment, dedupe_key) WHERE dedupe_key IS NOT NULL
                DO NOTHING
                RETURNING id)
            INSERT INTO webhook_deliveries (message_id, endpoint_id, client_id, environment)
            SELECT msg.id, e.id, $2, $3 FROM msg
            JOIN webhook_endpoints e ON e.client_id = $2 AND e.environment = $3
            WHERE e.enabled AND e.format = ANY ($9::text[]) AND {_SUBSCRIBED}
            RETURNING id""",  # noqa: S608 - constant SQL
        message.id,
        message.tenant.client_id,
        message.tenant.environment,
        message.type,
        opt_in,
        message.payload,
        dedupe_key,
        message.created_at,
        list(formats),
    )
    return [r["id"] for r in rows]


async def insert_test_message(pool: Pool, *, message: Message, endpoint_id: uuid.UUID) -> uuid.UUID:
    """Record a test message and its one delivery, to the endpoint given."""
    delivery_id: uuid.UUID = await pool.fetchval(
        """WITH msg AS (
               INSERT INTO webhook_messages (id, client_id, environment, type, payload, created_at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
           INSERT INTO webhook_deliveries (message_id, endpoint_id, client_id, environment)
           SELECT msg.id, $7, $2, $3 FROM msg RETURNING id""",
        message.id,
        message.tenant.client_id,
        message.tenant.environment,
        message.type,
        message.payload,
        message.created_at,
        endpoint_id,
    )
    return delivery_id


async def get_message(pool: Pool, *, tenant: Tenant, message_id: uuid.UUID) -> Message | None:
    """One of the tenant's messages, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM webhook_messages WHERE id = $1 AND client_id = $2 AND environment = $3",
        message_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _message(row)


async def list_messages(
    pool: Pool,
    *,
    tenant: Tenant,
    limit: int,
    cursor: str | None,
    event_type: WebhookEventType | None,
    status: MessageStatus | None,
    since: datetime | None,
    until: datetime | None,
    endpoint_id: uuid.UUID | None,
) -> tuple[list[EventLogEntry], str | None]:
    """A page of the event log, oldest first: messages with how their deliveries stand
    (to one endpoint when given), filtered by type, that status, and creation time."""
    rows = await pool.fetch(
        """SELECT m.*, agg.deliveries, agg.status AS log_status
           FROM webhook_messages m
           CROSS JOIN LATERAL (
               SELECT coalesce(jsonb_agg(jsonb_build_array(d.id, d.endpoint_id, d.status) ORDER BY d.id), '[]')
                          AS deliveries,
                      CASE WHEN count(d.id) = 0 THEN 'undelivered'
                           WHEN bool_or(d.status IN ('pending', 'sending')) THEN 'pending'
                           WHEN bool_or(d.status = 'failed') THEN 'failed'
                           ELSE 'succeeded' END AS status
               FROM webhook_deliveries d
               WHERE d.message_id = m.id AND ($8::uuid IS NULL OR d.endpoint_id = $8)) agg
           WHERE m.client_id = $1 AND m.environment = $2
             AND ($3::uuid IS NULL OR m.id > $3)
             AND ($4::text IS NULL OR m.type = $4)
             AND ($5::text IS NULL OR agg.status = $5)
             AND ($6::timestamptz IS NULL OR m.created_at >= $6)
             AND ($7::timestamptz IS NULL OR m.created_at < $7)
           ORDER BY m.id LIMIT $9""",
        tenant.client_id,
        tenant.environment,
        decode_uuid_cursor(cursor),
        event_type,
        status,
        since,
        until,
        endpoint_id,
        limit + 1,
    )
    items = [
        EventLogEntry(
            _message(r),
            MessageStatus(r["log_status"]),
            tuple((uuid.UUID(d), uuid.UUID(e), DeliveryStatus(s)) for d, e, s in r["deliveries"]),
        )
        for r in rows[:limit]
    ]
    return items, encode_cursor(str(items[-1].message.id)) if len(rows) > limit else None


# --- deliveries --------------------------------------------------------------------------

_DELIVERY = """SELECT d.*, m.type AS message_type FROM webhook_deliveries d
               JOIN webhook_messages m ON m.id = d.message_id"""


async def get_delivery(pool: Pool, *, tenant: Tenant, delivery_id: uuid.UUID) -> Delivery | None:
    """One of the tenant's deliveries, or None."""
    row = await pool.fetchrow(
        f"{_DELIVERY} WHERE d.id = $1 AND d.client_id = $2 AND d.environment = $3",
        delivery_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _delivery(row)


async def list_deliveries(
    pool: Pool,
    *,
    tenant: Tenant,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Delivery], str | None]:
    """A page of an endpoint's deliveries, oldest first."""
    rows = await pool.fetch(
        f"""{_DELIVERY} WHERE d.endpoint_id = $1 AND d.client_id = $2 AND d.environment = $3
              AND ($4::uuid IS NULL OR d.id > $4) AND ($5::text IS NULL OR d.status = $5)
            ORDER BY d.id LIMIT $6""",
        endpoint_id,
        tenant.client_id,
        tenant.environment,
        decode_uuid_cursor(cursor),
        status,
        limit + 1,
    )
    items = [_delivery(r) for r in rows[:limit]]
    return items, encode_cursor(str(items[-1].id)) if len(rows) > limit else None


async def delivery_attempts(pool: Pool, *, delivery_id: uuid.UUID) -> list[Attempt]:
    """A delivery's attempts, first first."""
    rows = await pool.fetch(
        "SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt", delivery_id
    )
    return [
        Attempt(
            attempt=r["attempt"],
            url=r["url"],
            status_code=r["status_code"],
            response_body=r["response_body"],
            error=r["error"],
            succeeded=r["succeeded"],
            started_at=r["started_at"],
            duration_ms=r["duration_ms"],
        )
        for r in rows
    ]


async def reopen_delivery(pool: Pool, *, tenant: Tenant, delivery_id: uuid.UUID) -> Delivery | None:
    """A finished (or waiting) delivery due now, with a new round of the retry schedule;
    None unless it exists, is not being sent, and its endpoint is enabled."""
    row = await pool.fetchrow(
        """WITH d AS (
               UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(),
                   round_start = d.attempts, updated_at = now()
               FROM webhook_endpoints e
               WHERE d.id = $1 AND d.client_id = $2 AND d.environment = $3
                 AND d.status IN ('pending', 'succeeded', 'failed')
                 AND e.id = d.endpoint_id AND e.enabled
               RETURNING d.*)
           SELECT d.*, m.type AS message_type FROM d JOIN webhook_messages m ON m.id = d.message_id""",
        delivery_id,
        tenant.client_id,
        tenant.environment,
    )
    return None if row is None else _delivery(row)


# A delivery that may be attempted now: pending and due, or waiting for room at its endpoint,
# or sending under an expired lease (its worker died; it keeps the slot it holds).
_TAKEABLE = """(d.status = 'pending' AND (d.waiting_since IS NOT NULL
                                       OR d.next_attempt_at <= now() + interval '1 second'))
               OR (d.status = 'sending' AND d.lease_until < now())"""

_ENDPOINT_COLUMNS = (
    "id",
    "client_id",
    "environment",
    "url",
    "description",
    "event_types",
    "format",
    "enabled",
    "disabled_reason",
    "disabled_at",
    "failing_since",
    "secret",
    "secret_nonce",
    "secret_key_id",
    "previous_secret",
    "previous_secret_nonce",
    "previous_secret_key_id",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
)
_CLAIMED_ENDPOINT = ", ".join(f"e.{c} AS e_{c}" for c in _ENDPOINT_COLUMNS)

# One statement: lock the delivery (``target``; a row another claimer holds is skipped), take
# a slot at its endpoint if there is room (a delivery sending under an expired lease keeps
# its own), and mark it sending with the attempt counted, or else ({parked}) waiting. Returns
# ({waiting}) whether a delivery of the endpoint is waiting, and the target with its endpoint
# and, when claimed, the delivery with its message.
_CLAIM = f"""
    WITH target AS (
        SELECT d.id, d.endpoint_id, d.status FROM webhook_deliveries d
        WHERE {{where}} AND ({_TAKEABLE})
        {{order}}
        FOR UPDATE SKIP LOCKED),
    slot AS (
        UPDATE webhook_endpoints e SET in_flight = e.in_flight + 1
        FROM target t
        WHERE e.id = t.endpoint_id AND t.status = 'pending' AND e.enabled AND e.in_flight < $2
        RETURNING e.id),
    claimed AS (
        UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1,
            lease_until = now() + make_interval(secs => $3), waiting_since = NULL,
            updated_at = now()
        FROM target t JOIN webhook_endpoints e ON e.id = t.endpoint_id
        WHERE d.id = t.id AND ((t.status = 'pending' AND EXISTS (SELECT 1 FROM slot))
                               OR (t.status = 'sending' AND e.enabled))
        RETURNING d.*),
    parked AS (
        UPDATE webhook_deliveries d SET waiting_since = coalesce(d.waiting_since, now()),
            next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
        FROM target t JOIN webhook_endpoints e ON e.id = t.endpoint_id
        WHERE {{parked}} AND d.id = t.id AND t.status = 'pending' AND e.enabled
          AND NOT EXISTS (SELECT 1 FROM slot)
        RETURNING d.id)
    SELECT w.waiting, t.id AS target_id, (SELECT count(*) FROM parked) AS parked,
           c.*, m.type AS message_type, m.id AS m_id, m.type AS m_type,
           m.payload AS m_payload, m.created_at AS m_created_at, {_CLAIMED_ENDPOINT}
    FROM (SELECT {{waiting}} AS waiting) w
    LEFT JOIN target t ON true
    LEFT JOIN webhook_endpoints e ON e.id = t.endpoint_id
    LEFT JOIN claimed c ON true
    LEFT JOIN webhook_messages m ON m.id = c.message_id"""  # noqa: S608 - constant SQL
_CLAIM_ONE = _CLAIM.format(where="d.id = $1", order="", parked="true", waiting="false")
_CLAIM_NEXT = _CLAIM.format(
    where="d.endpoint_id = $1 AND d.status = 'pending'",
    order="ORDER BY d.next_attempt_at LIMIT 1",
    parked="false",
    waiting="""EXISTS (SELECT 1 FROM webhook_deliveries d
                       WHERE d.endpoint_id = $1 AND d.status = 'pending'
                         AND (d.waiting_since IS NOT NULL OR d.next_attempt_at <= now()))""",
)


class _Prefixed:
    """A row's columns under a prefix, read without it."""

    def __init__(self, row: Record, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getitem__(self, key: str, /) -> Any:
        return self._row[self._prefix + key]


async def claim_delivery(
    pool: Pool, *, delivery_id: uuid.UUID, lease: float, concurrency: int, park: float
) -> Claim:
    """Take a delivery for an attempt. It must be due, waiting, or sending under an expired
    lease (its worker died), and (unless it holds one already) get one of its endpoint's
    ``concurrency`` slots. One claimer wins; the attempt is counted. A delivery to a disabled
    endpoint is failed. Without room it waits (``busy``): an attempt finishing at the
    endpoint takes it next (``claim_next``), or the sweeper after ``park`` seconds."""
    row = await pool.fetchrow(_CLAIM_ONE, delivery_id, concurrency, lease, park)
    assert row is not None
    if row["target_id"] is None:  # not takeable, or another claimer has it
        return Claim()
    if row["id"] is not None:
        return Claim(_claimed(row))
    if not row["e_enabled"]:
        await _fail_for_disabled_endpoint(pool, delivery_id=delivery_id)
        return Claim()
    return Claim(busy=bool(row["parked"]))


async def claim_next(
    pool: Pool, *, endpoint_id: uuid.UUID, lease: float, concurrency: int
) -> Claim:
    """Take the endpoint's pending delivery that is due or has waited longest, if there is
    room. ``busy``: no room (those holding the slots take the rest); ``waiting``: none was
    claimed although one waits (another claimer holds it right now)."""
    row = await pool.fetchrow(_CLAIM_NEXT, endpoint_id, concurrency, lease, 0.0)
    assert row is not None
    if row["id"] is not None:
        return Claim(_claimed(row))
    if row["target_id"] is not None:
        return Claim(busy=bool(row["e_enabled"]))
    return Claim(waiting=bool(row["waiting"]))


def _claimed(row: Record) -> ClaimedDelivery:
    endpoint = _Prefixed(row, "e_")
    return ClaimedDelivery(
        _delivery(row), _message(row, "m_"), _endpoint(endpoint), _secrets(endpoint)
    )


async def _fail_for_disabled_endpoint(pool: Pool, *, delivery_id: uuid.UUID) -> None:
    await pool.execute(
        f"""WITH old AS (
                SELECT d.id, d.status, d.endpoint_id FROM webhook_deliveries d
                WHERE d.id = $1 AND ({_TAKEABLE}) FOR UPDATE),
            failed AS (
                UPDATE webhook_deliveries d SET status = 'failed', lease_until = NULL,
                    waiting_since = NULL, last_error = 'the endpoint is disabled', updated_at = now()
                FROM old WHERE d.id = old.id
                RETURNING old.status AS was, old.endpoint_id)
            UPDATE webhook_endpoints e SET in_flight = greatest(e.in_flight - 1, 0)
            FROM failed WHERE e.id = failed.endpoint_id AND failed.was = 'sending'""",  # noqa: S608
        delivery_id,
    )


async def next_waiting(pool: Pool, *, endpoint_id: uuid.UUID) -> tuple[uuid.UUID, int] | None:
    """The endpoint's delivery that has waited longest for room, as (id, attempts), or None."""
    row = await pool.fetchrow(
        """SELECT id, attempts FROM webhook_deliveries
           WHERE endpoint_id = $1 AND status = 'pending'
             AND (waiting_since IS NOT NULL OR next_attempt_at <= now())
           ORDER BY next_attempt_at LIMIT 1""",
        endpoint_id,
    )
    return None if row is None else (row["id"], row["attempts"])


# The endpoint stops receiving ($8: why).
_DISABLING = "(e.enabled AND $8::text IS NOT NULL)"


async def record_attempt(
    pool: Pool,
    *,
    delivery_id: uuid.UUID,
    attempt_number: int,
    outcome: AttemptOutcome,
) -> bool:
    """Record an attempt with the delivery state that follows, and at its endpoint the slot
    given back, the failure streak and, when the outcome says so, the endpoint disabled, in
    one statement. False when the claim was lost (its lease ran out and another worker took
    it, with the slot): nothing is recorded then."""
    attempt = outcome.attempt
    recorded = await pool.fetchval(
        f"""WITH d AS (
                UPDATE webhook_deliveries SET status = $3, next_attempt_at = coalesce($4, next_attempt_at),
                    lease_until = NULL, last_attempt_at = $7, last_status_code = $5, last_error = $6,
                    updated_at = now()
                WHERE id = $1 AND status = 'sending' AND attempts = $2
                RETURNING id, endpoint_id),
            a AS (
                INSERT INTO webhook_attempts (delivery_id, attempt, url, status_code, response_body,
                                              error, succeeded, started_at, duration_ms)
                SELECT d.id, $2, $10, $5, $11, $6, $9, $7, $12 FROM d),
            e AS (
                UPDATE webhook_endpoints e SET
                    in_flight = greatest(e.in_flight - 1, 0),
                    failing_since = CASE WHEN $9 THEN NULL ELSE coalesce(e.failing_since, $7) END,
                    enabled = e.enabled AND NOT ({_DISABLING}),
                    disabled_reason = CASE WHEN {_DISABLING} THEN $8 ELSE e.disabled_reason END,
                    disabled_at = CASE WHEN {_DISABLING} THEN now() ELSE e.disabled_at END
                FROM d WHERE e.id = d.endpoint_id)
            SELECT count(*) FROM d""",  # noqa: S608 - constant SQL
        delivery_id,
        attempt_number,
        outcome.status,
        outcome.next_attempt_at,
        attempt.status_code,
        attempt.error,
        attempt.started_at,
        outcome.disable,
        attempt.succeeded,
        attempt.url,
        attempt.response_body,
        attempt.duration_ms,
    )
    return bool(recorded)


async def release_claim(pool: Pool, *, delivery_id: uuid.UUID, attempt_number: int) -> None:
    """Hand an interrupted attempt back (due now, its slot freed), without waiting for its
    lease to run out."""
    await pool.execute(
        """WITH d AS (
               UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),
                   lease_until = NULL, updated_at = now()
               WHERE id = $1 AND status = 'sending' AND attempts = $2
               RETURNING endpoint_id)
           UPDATE webhook_endpoints e SET in_flight = greatest(e.in_flight - 1, 0)
           FROM d WHERE e.id = d.endpoint_id""",
        delivery_id,
        attempt_number,
    )


async def due_deliveries(pool: Pool, *, limit: int, grace: float) -> list[tuple[uuid.UUID, int]]:
    """Deliveries due for ``grace`` seconds (their job should have started by now; half a
    second for a first attempt, which an announcement made without Redis leaves to the
    sweeper) and those whose lease ran out: (id, attempts)."""
    rows = await pool.fetch(
        """(SELECT id, attempts FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now() - make_interval(secs => least($2, 0.5))
              AND (attempts = round_start OR next_attempt_at <= now() - make_interval(secs => $2))
            ORDER BY next_attempt_at LIMIT $1)
           UNION ALL
           (SELECT id, attempts FROM webhook_deliveries WHERE status = 'sending' AND lease_until < now()
            ORDER BY lease_until LIMIT $1)""",
        limit,
        grace,
    )
    return [(r["id"], r["attempts"]) for r in rows]


async def execution_facts(pool: Pool, *, execution_id: uuid.UUID) -> ExecutionFacts:
    """An execution's workflow name and config id (gocobalt's workflow webhooks name them)."""
    row = await pool.fetchrow(
        """SELECT w.name AS workflow_name, c.config_id FROM executions x
           LEFT JOIN workflows w ON w.id = x.workflow_id
           LEFT JOIN configs c ON c.id = x.config_id
           WHERE x.id = $1""",
        execution_id,
    )
    if row is None:
        return ExecutionFacts(None, None)
    return ExecutionFacts(row["workflow_name"], row["config_id"])


async def prune_messages(pool: Pool, *, older_than: datetime, limit: int) -> int:
    """Delete up to ``limit`` messages created before ``older_than`` that have nothing left to
    send (their deliveries and attempts go with them); how many went."""
    deleted: int = await pool.fetchval(
        """WITH gone AS (
               DELETE FROM webhook_messages WHERE id IN (
                   SELECT m.id FROM webhook_messages m
                   WHERE m.created_at < $1
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id
                                     AND d.status IN ('pending', 'sending'))
                   ORDER BY m.created_at LIMIT $2)
               RETURNING 1)
           SELECT count(*) FROM gone""",
        older_than,
        limit,
    )
    return deleted
