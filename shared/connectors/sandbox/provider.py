"""The sandbox provider: a real OAuth2 authorization server and API, served by Linkport itself.

Demos and tests use it instead of a real SaaS: log in as ``user_good`` / ``pass_good``,
get an authorization code (PKCE S256 checked), trade it for access and refresh tokens,
call ``/sandbox/api/contacts`` with the access token. Faults can be switched on per grant
(``expired_token``, ``revoked``, ``rate_limited``, ``server_error``), and every API call is
recorded, so what Linkport did can be checked from outside.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from shared.config import Settings
from shared.connections import store as connection_store
from shared.connectors.oauth import s256
from shared.connectors.sandbox import store
from shared.connectors.sandbox.schemas import SandboxFault, SandboxFaultRead
from shared.errors import ApiError, ErrorCode, not_found
from shared.infra import redis_keys, tokens
from shared.infra.db import Pool
from shared.tenancy import Tenant

SANDBOX_APP = "sandbox"
GOOD_USERNAME = "user_good"
GOOD_PASSWORD = "pass_good"
CODE_TTL = 120
REFRESH_PREFIX = "sbx_rt_"
ACCESS_PREFIX = "sbx_at_"


class SandboxCode(BaseModel):
    """What an authorization code stands for until it is redeemed (once)."""

    client_id: str
    redirect_uri: str
    code_challenge: str | None
    scopes: list[str]
    username: str


@dataclass(frozen=True)
class SandboxReply:
    """An answer of the sandbox's token endpoint or API."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def valid_login(username: str, password: str) -> bool:
    """The sandbox's one account."""
    return secrets.compare_digest(username, GOOD_USERNAME) and secrets.compare_digest(
        password, GOOD_PASSWORD
    )


def registered_redirect_uri(*, settings: Settings) -> str:
    """The only redirect URI the sandbox sends codes to: Linkport's OAuth callback."""
    return settings.base_url.rstrip("/") + "/link/oauth/callback"


async def issue_code(
    *,
    redis: Redis,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    code_challenge: str | None,
    username: str,
) -> str:
    """An authorization code for a successful login (two minutes, single use)."""
    code = secrets.token_urlsafe(32)
    record = SandboxCode(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        scopes=scopes,
        username=username,
    )
    await redis.set(
        redis_keys.sandbox_code(tokens.hex_digest(code)), record.model_dump_json(), ex=CODE_TTL
    )
    return code


def _oauth_error(status: int, error: str, description: str) -> SandboxReply:
    return SandboxReply(status, {"error": error, "error_description": description})


async def token_endpoint(
    *,
    pool: Pool,
    redis: Redis,
    settings: Settings,
    form: dict[str, str],
    client_id: str | None,
    client_secret: str | None,
) -> SandboxReply:
    """``POST /sandbox/oauth/token``: authorization_code and refresh_token grants."""
    client_id = client_id or form.get("client_id")
    client_secret = client_secret or form.get("client_secret")
    if not (
        client_id
        and client_secret
        and secrets.compare_digest(client_id, settings.sandbox_client_id)
        and secrets.compare_digest(client_secret, settings.sandbox_client_secret)
    ):
        return _oauth_error(401, "invalid_client", "unknown client or wrong client secret")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return await _redeem_code(
            pool=pool, redis=redis, settings=settings, form=form, client_id=client_id
        )
    if grant_type == "refresh_token":
        grant = await store.use_refresh_token(
            pool, refresh_hash=tokens.digest(form.get("refresh_token", ""))
        )
        if grant is None or grant.fault == "revoked":
            return _oauth_error(400, "invalid_grant", "refresh token is invalid, used, or revoked")
        return SandboxReply(
            200,
            await _new_tokens(pool=pool, settings=settings, grant_id=grant.id, scopes=grant.scopes),
        )
    return _oauth_error(400, "unsupported_grant_type", "use authorization_code or refresh_token")


async def _redeem_code(
    *, pool: Pool, redis: Redis, settings: Settings, form: dict[str, str], client_id: str
) -> SandboxReply:
    raw = await redis.getdel(redis_keys.sandbox_code(tokens.hex_digest(form.get("code", ""))))
    if raw is None:
        return _oauth_error(
            400, "invalid_grant", "authorization code is invalid, expired or already used"
        )
    code = SandboxCode.model_validate_json(raw)
    if code.client_id != client_id or code.redirect_uri != form.get("redirect_uri"):
        return _oauth_error(
            400, "invalid_grant", "code was issued to another client or redirect_uri"
        )
    if (
        code.code_challenge is not None
        and s256(form.get("code_verifier", "")) != code.code_challenge
    ):
        return _oauth_error(
            400, "invalid_grant", "PKCE code_verifier does not match the code_challenge"
        )
    grant_id = await store.create_grant(
        pool, username=code.username, client_id=client_id, scopes=code.scopes
    )
    return SandboxReply(
        200, await _new_tokens(pool=pool, settings=settings, grant_id=grant_id, scopes=code.scopes)
    )


async def _new_tokens(
    *, pool: Pool, settings: Settings, grant_id: uuid.UUID, scopes: list[str]
) -> dict[str, Any]:
    access_token = tokens.mint(ACCESS_PREFIX, 32)
    refresh_token = tokens.mint(REFRESH_PREFIX, 32)
    ttl = settings.sandbox_access_token_ttl
    await store.add_tokens(
        pool,
        grant_id=grant_id,
        access_hash=tokens.digest(access_token),
        refresh_hash=tokens.digest(refresh_token),
        access_expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "scope": " ".join(scopes),
        "account_id": str(grant_id),
    }


def _api_error(status: int, error: str, description: str, **headers: str) -> SandboxReply:
    return SandboxReply(status, {"error": error, "error_description": description}, headers)


async def api_call(
    *,
    pool: Pool,
    method: str,
    path: str,
    authorization: str | None,
    body: Any,
    idempotency_key: str | None,
) -> SandboxReply:
    """``/sandbox/api/...``: authenticate the bearer token, apply faults, serve, record."""
    scheme, _, token = (authorization or "").partition(" ")
    found = (
        await store.grant_of_access_token(pool, access_hash=tokens.digest(token.strip()))
        if scheme.lower() == "bearer"
        else None
    )
    grant_id = found[0].id if found else None
    reply = await _serve(
        pool=pool, found=found, method=method, path=path, body=body, idempotency_key=idempotency_key
    )
    await store.record_call(
        pool,
        grant_id=grant_id,
        method=method,
        path=path,
        body=body,
        idempotency_key=idempotency_key,
        status=reply.status,
    )
    return reply


async def _serve(
    *,
    pool: Pool,
    found: tuple[store.SandboxGrant, bool] | None,
    method: str,
    path: str,
    body: Any,
    idempotency_key: str | None,
) -> SandboxReply:
    if found is None:
        return _api_error(401, "invalid_token", "missing or unknown access token")
    grant, expired = found
    if expired:
        return _api_error(401, "invalid_token", "access token expired")
    fault = await store.take_fault(pool, grant_id=grant.id)
    if fault == "revoked":
        return _api_error(401, "invalid_token", "access revoked by the user")
    if fault == "expired_token":
        await store.expire_access_tokens(pool, grant_id=grant.id)
        return _api_error(401, "invalid_token", "access token expired")
    if fault == "rate_limited":
        return _api_error(429, "rate_limited", "slow down", **{"Retry-After": "1"})
    if fault == "server_error":
        return _api_error(500, "server_error", "the sandbox failed on purpose")
    if path == "/me" and method == "GET":
        return SandboxReply(
            200, {"account_id": str(grant.id), "username": grant.username, "scopes": grant.scopes}
        )
    if path == "/contacts" and method == "GET":
        return SandboxReply(200, {"data": await store.list_contacts(pool, grant_id=grant.id)})
    if path == "/contacts" and method == "POST":
        if not isinstance(body, dict) or not body.get("email"):
            return _api_error(422, "invalid_contact", "a contact needs at least an email")
        contact, created = await store.create_contact(
            pool, grant_id=grant.id, data=body, idempotency_key=idempotency_key
        )
        return SandboxReply(201 if created else 200, contact)
    return _api_error(404, "not_found", f"no sandbox endpoint {method} {path}")


async def _sandbox_grant_of(
    *, pool: Pool, tenant: Tenant, connection_id: uuid.UUID
) -> store.SandboxGrant:
    connection = await connection_store.get_connection(
        pool, tenant=tenant, connection_id=connection_id
    )
    if connection is None:
        raise not_found("connection")
    if connection.connection.app != SANDBOX_APP or connection.provider_account_id is None:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "faults exist only for sandbox connections",
            field="connection_id",
        )
    grant = await store.get_grant(pool, grant_id=uuid.UUID(connection.provider_account_id))
    if grant is None:
        raise not_found("sandbox grant")
    return grant


async def set_connection_fault(
    *,
    pool: Pool,
    tenant: Tenant,
    connection_id: uuid.UUID,
    fault: SandboxFault | None,
    count: int | None,
) -> SandboxFaultRead:
    """Switch a fault on (or off) for a sandbox connection's grant."""
    grant = await _sandbox_grant_of(pool=pool, tenant=tenant, connection_id=connection_id)
    if fault == "expired_token" and count is None:
        count = 1  # a token expires once; the refreshed one works (unless a count says otherwise)
    await store.set_fault(pool, grant_id=grant.id, fault=fault, remaining=count)
    return SandboxFaultRead(
        connection_id=str(connection_id), fault=fault, remaining=count if fault else None
    )


async def connection_calls(
    *, pool: Pool, tenant: Tenant, connection_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The sandbox API calls made with a sandbox connection's tokens."""
    grant = await _sandbox_grant_of(pool=pool, tenant=tenant, connection_id=connection_id)
    return await store.list_calls(pool, grant_id=grant.id)
