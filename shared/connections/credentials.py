"""A connection's credentials for a call: decrypted, and refreshed under a lock when near expiry.

When twenty jobs find the same token about to expire, one takes the refresh lock (a Redis
lock: one refresh per connection across every worker) and refreshes; the others wait for
the lock and then read the refreshed token from Postgres. The refreshed credentials (the
rotated refresh token with them) are committed before anyone uses the new access token.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import LockError

from shared.apps import service as apps
from shared.config import Settings
from shared.connections import store
from shared.connections.models import ConnectionStatus, StoredConnection
from shared.connectors.catalog import Catalog, fill, has_user_fields
from shared.connectors.oauth import OAuthError, filled_params, refresh_tokens
from shared.infra import metrics, redis_keys
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import OutboundClient
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks

# How long a refresh may hold the lock, and how long others wait for it (seconds).
LOCK_TIMEOUT = 15.0
# Token endpoint answers that mean the grant is gone: the user must authorise again.
_GRANT_GONE = frozenset({"invalid_grant", "unauthorized_client", "invalid_client"})


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
) -> dict[str, Any]:
    """Credentials fit to use now. ``rejected_token``: the app just refused this access token,
    so refresh unless another worker already replaced it. ``loaded``: the connection as the
    caller just read it (saves a round trip; a refresh always re-reads under the lock)."""
    connection = loaded or await _load(source.pool, tenant, connection_id)
    if connection.connection.status != ConnectionStatus.ACTIVE:
        raise ReauthorizationNeeded(f"the connection is {connection.connection.status}")
    creds = open_credentials(source.keyring, connection)
    if not _stale(source, creds, rejected_token):
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
        if not _stale(source, creds, rejected_token):
            return creds
        return await _refresh(source, connection, creds)
    finally:
        with contextlib.suppress(LockError):  # it expired while we refreshed: nothing to release
            await lock.release()


def _stale(source: CredentialSource, creds: dict[str, Any], rejected: str | None) -> bool:
    if rejected is not None and creds.get("access_token") == rejected:
        return True
    return needs_refresh(creds, margin=source.settings.refresh_margin)


async def _load(pool: Pool, tenant: Tenant, connection_id: uuid.UUID) -> StoredConnection:
    connection = await store.get_connection(pool, tenant=tenant, connection_id=connection_id)
    if connection is None:
        raise ReauthorizationNeeded("the connection no longer exists")
    if connection.connection.status != ConnectionStatus.ACTIVE:
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
        fresh, _ = await refresh_tokens(
            source.http,
            spec=app.oauth,
            token_url=discovered or fill(app.oauth.token_url, base_url=base, fields=fields),
            from_catalog=not discovered and not has_user_fields(app.oauth.token_url),
            client=client,
            refresh_token=creds["refresh_token"],
            token_params=filled_params(app.oauth.token_params, base_url=base, fields=fields),
        )
    except OAuthError as exc:
        # reauth: the grant is gone; error: the endpoint failed or could not be reached
        metrics.REFRESH_FAILURES.labels("reauth" if exc.code in _GRANT_GONE else "error").inc()
        if exc.code in _GRANT_GONE:
            await mark_needs_reauth(
                source.pool, connection=connection, reason=f"token refresh refused: {exc.code}"
            )
            raise ReauthorizationNeeded(f"token refresh refused ({exc.code})") from None
        raise
    expires_at = fresh.expires_at()
    creds = {
        **creds,
        "access_token": fresh.access_token,
        "refresh_token": fresh.refresh_token or creds["refresh_token"],
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    sealed = source.keyring.seal(orjson.dumps(creds), bound_to=connection_binding(connection.id))
    await store.save_refreshed_credentials(
        source.pool, connection_id=connection.id, sealed=sealed, expires_at=expires_at
    )
    return creds


async def mark_needs_reauth(pool: Pool, *, connection: StoredConnection, reason: str) -> None:
    """The user must go through Link again (update mode) before this connection works."""
    await store.mark_needs_reauth(pool, connection_id=connection.id, reason=reason)
    await webhooks.notify_needs_reauth(
        pool=pool, redis=None, connection=connection.connection, reason=reason
    )
