"""Session tokens: a frontend's access to one linked account, for ``session_token_ttl`` seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.caches import Caches
from shared.grants import store as token_store
from shared.grants.models import IssuedToken
from shared.infra.db import Pool
from shared.infra.tokens import TokenKind
from shared.sessions.models import SessionGrant
from shared.tenancy import SessionPrincipal, Tenant


async def issue_session_token(
    *, pool: Pool, redis: Redis, caches: Caches, ttl: int, tenant: Tenant, linked_account_id: str
) -> IssuedToken:
    """A session token living ``ttl`` seconds for an existing account (404 otherwise)."""
    account = await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=linked_account_id
    )
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    grant = SessionGrant(
        client_id=tenant.client_id,
        environment=tenant.environment,
        linked_account_id=linked_account_id,
        account_created_at=account.created_at,
        expires_at=expires_at,
    )
    token = await token_store.store_token(redis, kind=TokenKind.SESSION, grant=grant, ttl=ttl)
    return IssuedToken(token, expires_at)


async def authenticate_session(
    *, pool: Pool, redis: Redis, caches: Caches, token: str
) -> SessionPrincipal | None:
    """The principal a live session token stands for, or None (expired, or account deleted)."""
    grant = await token_store.read_token(
        redis, kind=TokenKind.SESSION, token=token, grant_type=SessionGrant
    )
    if grant is None or not await accounts.grant_is_current(pool=pool, caches=caches, grant=grant):
        return None
    return SessionPrincipal(grant.tenant, grant.linked_account_id)
