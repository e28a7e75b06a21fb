"""Attempting a delivery: claim it, sign and send it once, record what happened and what next.

Success is a 2xx within ``webhook_timeout``. Redirects are not followed (a 3xx is a failure);
a 410 disables the endpoint; any other failure is retried on ``webhook_retry_schedule``
with jitter (a 429 or 503 ``Retry-After`` is honoured within 1 to 2 times the scheduled delay),
and the delivery fails after the last. An endpoint failing without a break for
``webhook_disable_after_days`` is disabled. Each attempt is its own job, scheduled from the
delivery row: Postgres holds the schedule, however long it is.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import aiohttp
import structlog
from arq.connections import ArqRedis

from shared.config import Settings
from shared.connectors.catalog import Catalog
from shared.infra import metrics, queue
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge
from shared.link import service as link_tokens
from shared.tenancy import Tenant
from shared.webhooks import store
from shared.webhooks.envelopes import (
    AppFacts,
    Extras,
    OutgoingRequest,
    ReauthLink,
    build_request,
)
from shared.webhooks.models import (
    Attempt,
    AttemptOutcome,
    Claim,
    ClaimedDelivery,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    EndpointFormat,
    WebhookEventType,
)
from shared.webhooks.service import new_message, secret_binding

log = structlog.get_logger(logger_name="linkport.webhooks")

# What an attempt row keeps of the reply.
RESPONSE_BODY_LIMIT = 2048
# A delivery whose endpoint has its fill in flight waits for one of those attempts to finish
# and take it next; if none does within this many seconds (its worker died), the sweeper
# enqueues it again.
PARK = 30.0
# At most this many waiting deliveries are taken by one job, within webhook_timeout seconds.
DRAIN_LIMIT = 1000


class AttemptResult(StrEnum):
    """What a delivery job did."""

    SUCCEEDED = "succeeded"
    RETRYING = "retrying"  # failed; the next attempt is scheduled
    FAILED = "failed"  # failed for good (schedule exhausted, 410)
    BUSY = "busy"  # the endpoint had its fill in flight: an attempt finishing there takes it
    SKIPPED = "skipped"  # not due, already done, taken by another worker, or endpoint disabled


class Sender(Protocol):
    """What sending webhooks uses: the process's resources (gateway or worker) provide it."""

    @property
    def pool(self) -> Pool:
        """Postgres."""

    @property
    def redis(self) -> ArqRedis:
        """Redis, and the queue (retries)."""

    @property
    def keyring(self) -> Keyring:
        """Opens the endpoints' secrets."""

    @property
    def catalog(self) -> Catalog:
        """Apps' names and logos (Vital's provider objects)."""

    @property
    def http(self) -> OutboundClient:
        """The one guarded outbound client."""

    @property
    def settings(self) -> Settings:
        """The webhook settings."""


def lease(settings: Settings) -> float:
    """How long an attempt holds its delivery: past it, a dead worker's delivery is taken over."""
    return 2 * settings.webhook_timeout + 1


def next_delay(
    *, schedule: tuple[float, ...], attempt: int, jitter: float, retry_after: float | None
) -> float | None:
    """Seconds before the attempt after ``attempt`` (1-based within the round), with jitter;
    ``retry_after`` counts within 1 to 2 times that delay. None when the schedule is exhausted."""
    if attempt >= len(schedule):
        return None
    delay = schedule[attempt] * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = min(max(retry_after, delay), 2 * delay)
    return delay


def retry_after_seconds(headers: dict[str, str], *, now: datetime) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date), or None when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - now).total_seconds())


def _text(raw: bytes | str, limit: int = RESPONSE_BODY_LIMIT) -> str:
    """Bounded text Postgres can store (no NUL)."""
    text = raw[:limit].decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw[:limit]
    return text.replace("\x00", "")


async def run_delivery(
    sender: Sender, *, delivery_id: uuid.UUID, drain: bool = True
) -> AttemptResult:
    """A delivery job: attempt the delivery if it is due and its endpoint has room; then
    (``drain``), for up to ``webhook_timeout`` seconds, attempt the deliveries waiting at the
    same endpoint: the slot this job holds passes to them instead of being polled for.
    Returns what became of the first."""
    settings = sender.settings
    claim = await _claim(sender, delivery_id)
    if claim.busy:  # marked waiting: those holding the endpoint's slots take it next
        return AttemptResult.BUSY
    if claim.claimed is None:
        return AttemptResult.SKIPPED
    endpoint_id = claim.claimed.endpoint.id
    result = await _attempt_claimed(sender, claim.claimed)
    if drain:
        await _drain(sender, endpoint_id, deadline=time.monotonic() + settings.webhook_timeout)
    return result


async def _claim(sender: Sender, delivery_id: uuid.UUID) -> Claim:
    settings = sender.settings
    return await store.claim_delivery(
        sender.pool,
        delivery_id=delivery_id,
        lease=lease(settings),
        concurrency=settings.webhook_endpoint_concurrency,
        park=PARK,
    )


async def _drain(sender: Sender, endpoint_id: uuid.UUID, *, deadline: float) -> None:
    """Attempt the endpoint's waiting deliveries one after another until none is left, the
    endpoint has no room (those holding its slots go on), or the deadline passes (then the
    next waiting delivery's own job takes over, so no worker slot is held for long)."""
    settings = sender.settings
    for _ in range(DRAIN_LIMIT):
        if time.monotonic() > deadline:
            break
        claim = await store.claim_next(
            sender.pool,
            endpoint_id=endpoint_id,
            lease=lease(settings),
            concurrency=settings.webhook_endpoint_concurrency,
        )
        if claim.claimed is not None:
            await _attempt_claimed(sender, claim.claimed)
        elif claim.waiting:  # another claimer holds it: it claims it, or marks it waiting
            await asyncio.sleep(0.01)
        else:  # none left, or no room (those holding the slots go on)
            return
    waiting = await store.next_waiting(sender.pool, endpoint_id=endpoint_id)
    if waiting is not None:
        await queue.enqueue(sender.redis, queue.webhook_job(*waiting))


async def _attempt_claimed(sender: Sender, claimed: ClaimedDelivery) -> AttemptResult:
    """Send a claimed delivery once, record the outcome, and schedule the retry if any."""
    delivery = claimed.delivery
    try:
        outcome = await _attempt(sender, claimed)
    except asyncio.CancelledError:
        # SIGTERM: hand the delivery back at once rather than after its lease.
        await asyncio.shield(
            store.release_claim(
                sender.pool, delivery_id=delivery.id, attempt_number=delivery.attempts
            )
        )
        raise
    recorded = await store.record_attempt(
        sender.pool,
        delivery_id=delivery.id,
        attempt_number=delivery.attempts,
        outcome=outcome,
    )
    metrics.WEBHOOK_ATTEMPTS.labels(
        status=str(outcome.attempt.status_code or "none"), outcome=outcome.status.value
    ).inc()
    (log.debug if outcome.status is DeliveryStatus.SUCCEEDED else log.info)(
        "webhook_attempt",
        delivery_id=str(delivery.id),
        attempt=delivery.attempts,
        status_code=outcome.attempt.status_code,
        outcome=outcome.status.value,
        recorded=recorded,
    )
    if not recorded:
        return AttemptResult.SKIPPED
    if outcome.status is DeliveryStatus.PENDING:
        await queue.enqueue(
            sender.redis,
            queue.webhook_job(delivery.id, delivery.attempts, defer_until=outcome.next_attempt_at),
        )
        return AttemptResult.RETRYING
    if outcome.status is DeliveryStatus.SUCCEEDED:
        return AttemptResult.SUCCEEDED
    return AttemptResult.FAILED


async def _attempt(sender: Sender, claimed: ClaimedDelivery) -> AttemptOutcome:
    """Send once and judge the answer (the caller records it)."""
    settings = sender.settings
    endpoint = claimed.endpoint
    started = datetime.now(UTC)
    clock = time.monotonic()
    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    retry_after: float | None = None
    try:
        request = await _request(sender, claimed, started)
        async with asyncio.timeout(settings.webhook_timeout):
            reply = await sender.http.request(
                "POST", endpoint.url, headers=request.headers, data=request.body
            )
        status_code, body = reply.status, _text(reply.body)
        if reply.status in (429, 503):
            retry_after = retry_after_seconds(reply.headers, now=datetime.now(UTC))
        if 300 <= reply.status < 400:
            error = f"redirect ({reply.status}) not followed"
        elif not 200 <= reply.status < 300:
            error = f"answered {reply.status}"
    except TimeoutError:
        error = f"timeout: no answer within {settings.webhook_timeout:g} s"
    except (BlockedDestination, ResponseTooLarge) as exc:
        error = _text(str(exc), 500)
    except aiohttp.ClientError as exc:
        error = _text(f"network: {type(exc).__name__}: {exc}", 500)
    except Exception as exc:  # a bug or an outage here: retried like any failure
        log.exception("webhook_attempt_crashed", delivery_id=str(claimed.delivery.id))
        error = f"internal: {type(exc).__name__}"
    attempt = Attempt(
        attempt=claimed.delivery.attempts,
        url=endpoint.url,
        status_code=status_code,
        response_body=body,
        error=error,
        succeeded=error is None,
        started_at=started,
        duration_ms=(time.monotonic() - clock) * 1000,
    )
    if attempt.succeeded:
        return AttemptOutcome(attempt, DeliveryStatus.SUCCEEDED, None, None)
    if status_code == 410:
        return AttemptOutcome(attempt, DeliveryStatus.FAILED, None, DisabledReason.GONE)
    failing_since = endpoint.failing_since
    limit = timedelta(days=settings.webhook_disable_after_days)
    if failing_since is not None and failing_since <= started - limit:
        return AttemptOutcome(attempt, DeliveryStatus.FAILED, None, DisabledReason.FAILING)
    delivery = claimed.delivery
    delay = next_delay(
        schedule=settings.webhook_retry_schedule,
        attempt=delivery.attempts - delivery.round_start,
        jitter=settings.webhook_retry_jitter,
        retry_after=retry_after,
    )
    if delay is None:
        return AttemptOutcome(attempt, DeliveryStatus.FAILED, None, None)
    at = datetime.now(UTC) + timedelta(seconds=delay)
    return AttemptOutcome(attempt, DeliveryStatus.PENDING, at, None)


async def _request(sender: Sender, claimed: ClaimedDelivery, now: datetime) -> OutgoingRequest:
    """The signed body and headers for this attempt, in the endpoint's format."""
    endpoint, message = claimed.endpoint, claimed.message
    binding = secret_binding(endpoint.id)
    secrets = [sender.keyring.open(claimed.secrets.current, bound_to=binding)]
    previous = claimed.secrets.previous
    expires = claimed.secrets.previous_expires_at
    if previous is not None and expires is not None and expires > now:
        secrets.append(sender.keyring.open(previous, bound_to=binding))
    extras = await _extras(sender, claimed)
    return build_request(
        format=endpoint.format,
        message=message,
        secrets=secrets,
        sent_at=now,
        extras=extras,
        attempt=claimed.delivery.attempts,
    )


async def _extras(sender: Sender, claimed: ClaimedDelivery) -> Extras:
    """What the endpoint's format needs besides the message, looked up now."""
    message, format = claimed.message, claimed.endpoint.format
    data = message.payload.get("data", {})
    if message.type is WebhookEventType.CONNECTION_NEEDS_REAUTH and format in (
        EndpointFormat.STANDARD,
        EndpointFormat.EMR,
    ):
        return Extras(reauth_link=await _reauth_link(sender, message.tenant, data))
    if format is EndpointFormat.VITAL and "app" in data:
        app = sender.catalog.get(data["app"])
        if app is not None:
            logo = sender.settings.base_url.rstrip("/") + app.logo_path
            return Extras(app=AppFacts(app.name, logo))
    if format is EndpointFormat.GOCOBALT and message.type in (
        WebhookEventType.EXECUTION_SUCCEEDED,
        WebhookEventType.EXECUTION_FAILED,
    ):
        facts = await store.execution_facts(
            sender.pool, execution_id=uuid.UUID(data["execution_id"])
        )
        return Extras(execution=facts)
    return Extras()


async def _reauth_link(sender: Sender, tenant: Tenant, data: dict[str, str]) -> ReauthLink | None:
    """A fresh update-mode link token for the connection (each attempt gets its own: tokens
    expire in minutes, retries go on for days, and Postgres never holds one)."""
    ttl = sender.settings.link_token_ttl
    issued = await link_tokens.issue_reauth_link_token(
        pool=sender.pool,
        redis=sender.redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=data["linked_account_id"],
        connection_id=uuid.UUID(data["connection_id"]),
    )
    if issued is None:
        return None
    url = f"{sender.settings.base_url.rstrip('/')}/link?token={issued.token}"
    return ReauthLink(issued.token, url, issued.expires_at)


async def send_test(sender: Sender, *, tenant: Tenant, endpoint_id: uuid.UUID) -> Delivery:
    """A signed ``webhook.test`` message to one endpoint, attempted now (retried like any
    other if it fails). Returns the delivery as it stands after the attempt."""
    message = new_message(
        tenant, WebhookEventType.TEST, {"endpoint_id": str(endpoint_id), "ping": True}
    )
    delivery_id = await store.insert_test_message(
        sender.pool, message=message, endpoint_id=endpoint_id
    )
    await run_delivery(sender, delivery_id=delivery_id, drain=False)
    delivery = await store.get_delivery(sender.pool, tenant=tenant, delivery_id=delivery_id)
    assert delivery is not None
    return delivery


async def sweep(sender: Sender, *, limit: int = 500) -> int:
    """Re-enqueue deliveries that may have no live job (Redis flushed, a process killed, an
    announcement made without Redis). Job ids make this harmless when the job exists."""
    due = await store.due_deliveries(sender.pool, limit=limit, grace=sender.settings.sweep_grace)
    await queue.enqueue_many(sender.redis, [queue.webhook_job(d, attempts) for d, attempts in due])
    return len(due)


async def prune(sender: Sender, *, batch: int = 1000) -> int:
    """Delete settled messages older than ``webhook_retention_days``, a batch at a time (short
    transactions); how many went."""
    cutoff = datetime.now(UTC) - timedelta(days=sender.settings.webhook_retention_days)
    total = 0
    while True:
        deleted = await store.prune_messages(sender.pool, older_than=cutoff, limit=batch)
        total += deleted
        if deleted < batch:
            return total
