"""Session tokens: a frontend's 24-hour access to one linked account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.accounts import service as accounts
from shared.infra.resources import Resources
from shared.tenancy import SessionPrincipal, Tenant
from shared.tokens import store as token_store
from shared.tokens.models import SessionGrant
from shared.tokens.service import TokenKind


async def issue_session_token(
    res: Resources, *, tenant: Tenant, linked_account_id: str
) -> tuple[str, datetime]:
    """A session token for an existing account (404 otherwise), and when it expires."""
    account = await accounts.require_account(
        res, tenant=tenant, linked_account_id=linked_account_id
    )
    ttl = res.settings.session_token_ttl
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    grant = SessionGrant(
        client_id=tenant.client_id,
        environment=tenant.environment,
        linked_account_id=linked_account_id,
        account_created_at=account.created_at,
        expires_at=expires_at,
    )
    token = await token_store.store_token(
        res.redis,
        kind=TokenKind.SESSION,
        grant=grant,
        ttl=ttl,
    )
    return token, expires_at


async def authenticate_session(res: Resources, *, token: str) -> SessionPrincipal | None:
    """The principal a live session token stands for, or None (expired, or account deleted)."""
    grant = await token_store.read_token(
        res.redis, kind=TokenKind.SESSION, token=token, grant_type=SessionGrant
    )
    if grant is None or not await accounts.grant_is_current(res, grant):
        return None
    return SessionPrincipal(grant.tenant, grant.linked_account_id)
