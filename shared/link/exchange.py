"""Access tokens (``at_…``): the permanent handle a product backend keeps for a connection.

Issued once by exchanging the public token the Link flow produced, shown once, stored
only as a hash on the connection (one live token per connection), rotated on demand.
"""

from __future__ import annotations

from uuid import UUID

from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.caches import Caches
from shared.connections import store as connection_store
from shared.errors import ApiError, ErrorCode, not_found
from shared.grants import store as token_store
from shared.grants.models import PublicGrant
from shared.infra import metrics, tokens
from shared.infra.db import Pool
from shared.infra.tokens import TokenKind
from shared.link.schemas import AccessTokenRotated, PublicTokenExchanged
from shared.tenancy import Tenant

# How long one exchange may hold a public token before another may try (a crashed gateway
# leaves the token usable again after this).
EXCHANGE_HOLD_MS = 30_000


def _invalid() -> ApiError:
    return ApiError(
        ErrorCode.INVALID_PUBLIC_TOKEN,
        "public_token is invalid, expired or already exchanged",
        field="public_token",
    )


async def exchange_public_token(
    *, pool: Pool, redis: Redis, caches: Caches, tenant: Tenant, public_token: str
) -> PublicTokenExchanged:
    """Use up a public token: of concurrent exchanges exactly one succeeds, and the token is
    used up only when the access token is committed (an outage leaves it usable) and only by
    the tenant it was issued to (another tenant presenting it changes nothing)."""
    grant = await token_store.claim_token(
        redis,
        kind=TokenKind.PUBLIC,
        token=public_token,
        tenant=tenant,
        grant_type=PublicGrant,
        hold_ms=EXCHANGE_HOLD_MS,
    )
    if grant is None:
        raise _invalid()
    used = False
    try:
        if not await accounts.grant_is_current(pool=pool, caches=caches, grant=grant):
            used = True  # its account is gone: the token can never be exchanged
            raise _invalid()
        access_token = tokens.mint(tokens.ACCESS_TOKEN_PREFIX, 32)
        connection_id = await connection_store.set_access_token(
            pool,
            tenant=tenant,
            connection_id=grant.connection_id,
            token_hash=tokens.digest(access_token),
        )
        used = True  # committed (or the connection is gone: nothing to exchange for)
        if connection_id is not None:
            metrics.token_issued("access")
    finally:
        await token_store.end_claim(redis, kind=TokenKind.PUBLIC, token=public_token, used=used)
    if connection_id is None:  # deleted between the flow and the exchange
        raise _invalid()
    return PublicTokenExchanged(
        access_token=access_token,
        connection_id=str(connection_id),
        user_id=grant.linked_account_id,
        org_id=grant.org_id,
        app=grant.app,
    )


async def rotate_access_token(
    *, pool: Pool, tenant: Tenant, connection_id: UUID
) -> AccessTokenRotated:
    """A new access token for the connection; the old one stops working at once."""
    access_token = tokens.mint(tokens.ACCESS_TOKEN_PREFIX, 32)
    rotated = await connection_store.set_access_token(
        pool, tenant=tenant, connection_id=connection_id, token_hash=tokens.digest(access_token)
    )
    if rotated is None:
        raise not_found("connection")
    metrics.token_issued("access")
    return AccessTokenRotated(access_token=access_token, connection_id=str(rotated))
