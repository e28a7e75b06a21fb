"""A connection's credentials for a call: decrypted, and refreshed under a lock when near expiry.

When twenty jobs find the same token about to expire, one takes the Redis lock and
refreshes; the others wait for the lock to go and read the refreshed token from Postgres.
The refreshed token is written back before anyone uses it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shared.apps import service as apps
from shared.connections import store
from shared.connections.store import StoredConnection
from shared.connectors.catalog import fill
from shared.connectors.oauth import OAuthError, request_token, token_session
from shared.infra.resources import Resources
from shared.link.flow import connection_binding
from shared.tenancy import Tenant

LOCK_TTL_MS = 15_000
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class ReauthorizationNeeded(Exception):
    """The provider no longer accepts this connection's grant: the user must re-authorise."""


def lock_key(connection_id: uuid.UUID) -> str:
    """``lp:lock:refresh:{connection}``."""
    return f"lp:lock:refresh:{connection_id}"


def open_credentials(res: Resources, connection: StoredConnection) -> dict[str, Any]:
    """The decrypted credentials of a connection (empty for apps without any)."""
    if connection.credentials is None:
        return {}
    plaintext = res.keyring.open(
        connection.credentials, bound_to=connection_binding(connection.read.id)
    )
    value: dict[str, Any] = orjson.loads(plaintext)
    return value


def _needs_refresh(res: Resources, creds: dict[str, Any]) -> bool:
    expires_at = creds.get("expires_at")
    if not expires_at or not creds.get("refresh_token"):
        return False
    margin = timedelta(seconds=res.settings.refresh_margin)
    return datetime.fromisoformat(expires_at) - margin <= datetime.now(UTC)


async def current_credentials(
    res: Resources,
    *,
    tenant: Tenant,
    connection_id: uuid.UUID,
    rejected_token: str | None = None,
    loaded: StoredConnection | None = None,
) -> dict[str, Any]:
    """Credentials fit to use now. ``rejected_token``: the app just refused this access token,
    so refresh unless another worker already replaced it. ``loaded``: the connection as the
    caller just read it (saves a round trip; a refresh always re-reads under the lock)."""
    deadline = time.monotonic() + LOCK_TTL_MS / 1000
    while True:
        if loaded is not None and loaded.read.status != "active":
            raise ReauthorizationNeeded(f"the connection is {loaded.read.status}")
        connection = loaded or await _load(res, tenant, connection_id)
        loaded = None
        creds = open_credentials(res, connection)
        stale = rejected_token is not None and creds.get("access_token") == rejected_token
        if not stale and not _needs_refresh(res, creds):
            return creds
        if not creds.get("refresh_token"):
            raise ReauthorizationNeeded(
                "the app refused the credentials and there is no refresh token"
            )
        token = secrets.token_hex(16)
        if await res.redis.set(lock_key(connection_id), token, nx=True, px=LOCK_TTL_MS):
            try:
                return await _refresh(res, connection, rejected_token)
            finally:
                await res.redis.eval(_RELEASE, 1, lock_key(connection_id), token)  # type: ignore[misc]
        # Someone else is refreshing: wait for the lock to go, then read what they wrote.
        while await res.redis.exists(lock_key(connection_id)) and time.monotonic() < deadline:  # noqa: ASYNC110 - the lock lives in Redis, shared across processes
            await asyncio.sleep(0.02)
        if time.monotonic() >= deadline:
            raise TimeoutError("waited too long for another worker's token refresh")


async def _load(res: Resources, tenant: Tenant, connection_id: uuid.UUID) -> StoredConnection:
    connection = await store.get_connection(res.pool, tenant=tenant, connection_id=connection_id)
    if connection is None:
        raise ReauthorizationNeeded("the connection no longer exists")
    if connection.read.status != "active":
        raise ReauthorizationNeeded(f"the connection is {connection.read.status}")
    return connection


async def _refresh(
    res: Resources, stale: StoredConnection, rejected_token: str | None
) -> dict[str, Any]:
    # Re-read under the lock: a worker that held it before us may have refreshed already.
    connection = await _load(res, stale.tenant, uuid.UUID(stale.read.id))
    creds = open_credentials(res, connection)
    if not (
        rejected_token is not None and creds.get("access_token") == rejected_token
    ) and not _needs_refresh(res, creds):
        return creds
    app = res.catalog.get(connection.read.app)
    if app is None or app.oauth is None:
        raise ReauthorizationNeeded("the app does not support refreshing tokens")
    client = await apps.oauth_client(res, tenant=connection.tenant, app=app)
    if client is None:
        raise ReauthorizationNeeded("no OAuth client is configured for the app")
    client_id, client_secret, _ = client
    token_url = fill(
        app.oauth.token_url, base_url=res.settings.base_url, fields=connection.read.fields
    )
    try:
        fresh = await request_token(
            token_session(res, template=app.oauth.token_url, token_url=token_url),
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            form={"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]},
        )
    except OAuthError as exc:
        if exc.code in ("invalid_grant", "unauthorized_client", "invalid_client"):
            await mark_needs_reauth(
                res, connection=connection, reason=f"token refresh refused: {exc.code}"
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
    sealed = res.keyring.seal(orjson.dumps(creds), bound_to=connection_binding(connection.read.id))
    await res.pool.execute(
        """UPDATE connections SET credentials = $2, credentials_nonce = $3, credentials_key_id = $4,
               credentials_expires_at = $5, updated_at = now() WHERE id = $1""",
        uuid.UUID(connection.read.id),
        sealed.ciphertext,
        sealed.nonce,
        sealed.key_id,
        expires_at,
    )
    return creds


async def mark_needs_reauth(res: Resources, *, connection: StoredConnection, reason: str) -> None:
    """The user must go through Link again (update mode) before this connection works."""
    await res.pool.execute(
        "UPDATE connections SET status = 'needs_reauth', status_reason = $2, updated_at = now() WHERE id = $1",
        uuid.UUID(connection.read.id),
        reason,
    )
