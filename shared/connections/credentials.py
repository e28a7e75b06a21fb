"""A connection's credentials for a call: decrypted, and refreshed under a lock when near expiry.

When twenty jobs find the same token about to expire, one takes the refresh lock (a Redis
lock: one refresh per connection across every worker) and refreshes; the others wait for
the lock and then read the refreshed token from Postgres.

Rotation is stored before it is used: the refreshed credentials (the rotated refresh token
with them) are committed in one UPDATE before the new access token is returned to anyone.
If the process dies after the provider answered but before that commit, Postgres still
holds the old refresh token, which a rotating provider no longer accepts: the next refresh
is refused and the connection becomes ``needs_reauth`` (the user re-links) — never a state
where a caller uses tokens whose refresh token Linkport does not hold. If the commit
succeeds and the process dies before answering, the next caller reads the new tokens.

How a refresh ends moves the connection's status: refused (invalid_grant, an unauthorised
client) → ``needs_reauth``; refused as revoked → ``revoked`` (both announced as
``connection.needs_reauth``); failing for network or server reasons ``refresh_error_after``
times in a row → ``error``, back to ``active`` on the next success.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import LockError

from shared.apps import service as apps
from shared.config import Settings
from shared.connections import store
from shared.connections.models import Connection, ConnectionStatus, StoredConnection
from shared.connectors.catalog import Catalog, fill, has_user_fields
from shared.connectors.oauth import OAuthError, filled_params, learned_fields, refresh_tokens
from shared.infra import metrics, redis_keys
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outages import OUTAGE_ERRORS
from shared.infra.outbound import OutboundClient
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks

log = structlog.get_logger(logger_name="linkport.connections")

# How long a refresh may hold the lock, and how long others wait for it (seconds).
LOCK_TIMEOUT = 15.0
# Token endpoint answers that mean the grant is gone: the user must authorise again.
_GRANT_GONE = frozenset({"invalid_grant", "unauthorized_client", "invalid_client", "unauthorized"})
# ...and those that say the user (or an admin) revoked it (Slack's token_revoked, …).
_GRANT_REVOKED = frozenset({"token_revoked", "revoked_token", "access_revoked"})
# Refreshes the cron makes at once (each waits on its provider's token endpoint).
_SCAN_CONCURRENCY = 8


class ReauthorizationNeeded(Exception):
    """The provider no longer accepts this connection's grant: the user must re-authorise."""


def connection_binding(connection_id: object) -> str:
    """What a connection's sealed credentials are bound to (their row)."""
    return f"connection:{connection_id}"


@dataclass(frozen=True)
class CredentialSource:
    """What reading and refreshing credentials uses (built once per worker)."""

    pool: Pool
    redis: Redis
    keyring: Keyring
    catalog: Catalog
    http: OutboundClient
    settings: Settings


def open_credentials(keyring: Keyring, connection: StoredConnection) -> dict[str, Any]:
    """The decrypted credentials of a connection (empty for apps without any)."""
    if connection.credentials is None:
        return {}
    plaintext = keyring.open(connection.credentials, bound_to=connection_binding(connection.id))
    value: dict[str, Any] = orjson.loads(plaintext)
    return value


def needs_refresh(creds: dict[str, Any], *, margin: float, now: datetime | None = None) -> bool:
    """Whether the access token expires within ``margin`` seconds (and can be refreshed)."""
    expires_at = creds.get("expires_at")
    if not expires_at or not creds.get("refresh_token"):
        return False
    deadline = datetime.fromisoformat(expires_at) - timedelta(seconds=margin)
    return deadline <= (now or datetime.now(UTC))


async def current_credentials(
    source: CredentialSource,
    *,
    tenant: Tenant,
    connection_id: uuid.UUID,
    rejected_token: str | None = None,
    loaded: StoredConnection | None = None,
    margin: float | None = None,
) -> dict[str, Any]:
    """Credentials fit to use now. ``rejected_token``: the app just refused this access token,
    so refresh unless another worker already replaced it. ``loaded``: the connection as the
    caller just read it (saves a round trip; a refresh always re-reads under the lock).
    ``margin``: refresh when the token expires within this many seconds (default: the
    ``refresh_margin`` setting; the refresh cron asks earlier)."""
    margin = source.settings.refresh_margin if margin is None else margin
    connection = loaded or await _load(source.pool, tenant, connection_id)
    if not connection.connection.status.usable:
        raise ReauthorizationNeeded(f"the connection is {connection.connection.status}")
    creds = open_credentials(source.keyring, connection)
    if not _stale(creds, rejected_token, margin):
        return creds
    if not creds.get("refresh_token"):
        raise ReauthorizationNeeded("the app refused the credentials and there is no refresh token")
    lock = source.redis.lock(
        redis_keys.refresh_lock(connection_id), timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_TIMEOUT
    )
    if not await lock.acquire():
        raise TimeoutError("waited too long for another worker's token refresh")
    try:
        # Re-read under the lock: whoever held it before us may have refreshed already.
        connection = await _load(source.pool, tenant, connection_id)
        creds = open_credentials(source.keyring, connection)
        if not _stale(creds, rejected_token, margin):
            return creds
        return await _refresh(source, connection, creds)
    finally:
        with contextlib.suppress(LockError):  # it expired while we refreshed: nothing to release
            await lock.release()


def _stale(creds: dict[str, Any], rejected: str | None, margin: float) -> bool:
    if rejected is not None and creds.get("access_token") == rejected:
        return True
    return needs_refresh(creds, margin=margin)


async def _load(pool: Pool, tenant: Tenant, connection_id: uuid.UUID) -> StoredConnection:
    connection = await store.get_connection(pool, tenant=tenant, connection_id=connection_id)
    if connection is None:
        raise ReauthorizationNeeded("the connection no longer exists")
    if not connection.connection.status.usable:
        raise ReauthorizationNeeded(f"the connection is {connection.connection.status}")
    return connection


async def _refresh(
    source: CredentialSource, connection: StoredConnection, creds: dict[str, Any]
) -> dict[str, Any]:
    app = source.catalog.get(connection.connection.app)
    if app is None or app.oauth is None or not app.oauth.refresh:
        raise ReauthorizationNeeded("the app does not support refreshing tokens")
    client = await apps.oauth_client(
        pool=source.pool,
        keyring=source.keyring,
        settings=source.settings,
        tenant=connection.tenant,
        app=app,
    )
    if client is None:
        raise ReauthorizationNeeded("no OAuth client is configured for the app")
    # A SMART server's discovered token endpoint (kept with the credentials) wins.
    discovered = creds.get("token_url")
    base, fields = source.settings.base_url, connection.connection.fields
    try:
        fresh, answer = await refresh_tokens(
            source.http,
            spec=app.oauth,
            token_url=discovered or fill(app.oauth.token_url, base_url=base, fields=fields),
            from_catalog=not discovered and not has_user_fields(app.oauth.token_url),
            client=client,
            refresh_token=creds["refresh_token"],
            token_params=filled_params(app.oauth.token_params, base_url=base, fields=fields),
        )
    except OAuthError as exc:
        refusal = refusal_status(exc)
        if refusal is None:
            await _refresh_failed(source, connection, f"token refresh failed: {exc.code}")
            raise
        # A worker whose lock ran out may have refreshed meanwhile (and a rotating provider
        # then refuses the refresh token we hold): its credentials stand.
        current = await _load(source.pool, connection.tenant, connection.id)
        latest = open_credentials(source.keyring, current)
        if latest.get("refresh_token") != creds["refresh_token"]:
            return latest
        metrics.REFRESH_FAILURES.labels(
            "revoked" if refusal is ConnectionStatus.REVOKED else "reauth"
        ).inc()
        reason = f"token refresh refused: {exc.code}"
        await mark_unusable(source.pool, connection=connection, status=refusal, reason=reason)
        raise ReauthorizationNeeded(f"token refresh refused ({exc.code})") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        await _refresh_failed(source, connection, f"token refresh failed: {type(exc).__name__}")
        raise
    expires_at = fresh.expires_at()
    creds = {
        **creds,
        "access_token": fresh.access_token,
        "refresh_token": fresh.refresh_token or creds["refresh_token"],
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    sealed = source.keyring.seal(orjson.dumps(creds), bound_to=connection_binding(connection.id))
    # What a refresh may change besides the tokens: Salesforce can answer another
    # ``instance_url`` (the API host); kept with the tokens, in the same write.
    learned = learned_fields(app.oauth, fresh, answer, {})
    changed = {**fields, **learned} if any(fields.get(k) != v for k, v in learned.items()) else None
    # Committed before anyone is handed the new access token (see the module).
    await store.save_refreshed_credentials(
        source.pool,
        connection_id=connection.id,
        sealed=sealed,
        expires_at=expires_at,
        fields=changed,
    )
    metrics.REFRESHES.inc()
    return creds


def refusal_status(exc: OAuthError) -> ConnectionStatus | None:
    """What a token endpoint's refusal makes of the connection: ``revoked`` when its error
    code says the grant was revoked (Slack's ``token_revoked``), ``needs_reauth`` when the
    grant or client is refused otherwise; None for failures that may pass (network, 5xx, an
    answer that is not a token). An ``invalid_grant`` is never taken for a revocation from
    its description: providers word it "invalid, expired, or revoked" whatever happened."""
    code = exc.code.lower()
    if code in _GRANT_REVOKED:
        return ConnectionStatus.REVOKED
    if code in _GRANT_GONE:
        return ConnectionStatus.NEEDS_REAUTH
    return None


async def _refresh_failed(
    source: CredentialSource, connection: StoredConnection, reason: str
) -> None:
    metrics.REFRESH_FAILURES.labels("error").inc()
    await store.record_refresh_failure(
        source.pool,
        connection_id=connection.id,
        reason=reason,
        error_after=source.settings.refresh_error_after,
    )


async def mark_needs_reauth(pool: Pool, *, connection: StoredConnection, reason: str) -> None:
    """The user must go through Link again (update mode) before this connection works."""
    await mark_unusable(
        pool, connection=connection, status=ConnectionStatus.NEEDS_REAUTH, reason=reason
    )


async def mark_unusable(
    pool: Pool, *, connection: StoredConnection, status: ConnectionStatus, reason: str
) -> Connection | None:
    """Move a usable connection to ``needs_reauth`` or ``revoked`` and announce it
    (``connection.needs_reauth``, with an update-mode link token); nothing when it had
    already moved. Returns the connection as changed, or None."""
    changed = await store.set_unusable(
        pool, connection_id=connection.id, status=status, reason=reason
    )
    if changed is not None:
        await webhooks.notify_needs_reauth(
            pool=pool, redis=None, connection=changed, reason=reason, status=status.value
        )
    return changed


async def refresh_due(source: CredentialSource) -> int:
    """The refresh cron's work: refresh the usable connections whose access token expires
    within ``refresh_ahead`` seconds (a bounded batch, soonest first), each through
    ``current_credentials`` and its lock, so a connection is refreshed once however many
    workers and jobs want it. Returns how many it took up. Idempotent: a connection
    refreshed meanwhile is left as it is; one that failed waits ``refresh_retry_interval``.
    An outage of Postgres or Redis is raised (after the batch) for the worker to ride out."""
    settings = source.settings
    due = await store.claim_refreshes_due(
        source.pool,
        ahead=settings.refresh_ahead,
        hold=settings.refresh_retry_interval,
        limit=settings.refresh_batch_size,
    )
    gate = asyncio.Semaphore(_SCAN_CONCURRENCY)

    async def refresh_one(item: store.RefreshDue) -> None:
        async with gate:
            try:
                creds = await current_credentials(
                    source, tenant=item.tenant, connection_id=item.id, margin=settings.refresh_ahead
                )
            except ReauthorizationNeeded:
                # Its status says why, or it cannot be refreshed (no OAuth client, an app
                # without refreshes): left alone until it has new credentials.
                await store.hold_refreshes(source.pool, connection_id=item.id)
                return
            except (OAuthError, aiohttp.ClientError, TimeoutError) as exc:
                # counted as the connection's failure (a lock waited on too long: not at all)
                log.warning(
                    "token_refresh_failed", connection_id=str(item.id), error=type(exc).__name__
                )
                return
            if not creds.get("refresh_token"):
                await store.hold_refreshes(source.pool, connection_id=item.id)

    outcomes = await asyncio.gather(*(refresh_one(item) for item in due), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, OUTAGE_ERRORS):
            raise outcome
        if isinstance(outcome, BaseException):
            log.error("token_refresh_crashed", error=type(outcome).__name__)
    return len(due)
