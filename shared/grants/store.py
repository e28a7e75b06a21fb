"""Short-lived tokens in Redis: stored under their hash with a TTL, consumed atomically."""

from __future__ import annotations

from typing import TypeVar

from redis.asyncio import Redis

from shared.grants.models import Grant
from shared.infra import metrics, redis_keys, tokens
from shared.infra.tokens import TokenKind
from shared.tenancy import Tenant

G = TypeVar("G", bound=Grant)


async def store_token(redis: Redis, *, kind: TokenKind, grant: Grant, ttl: int) -> str:
    """Mint a token for ``grant`` and keep it ``ttl`` seconds: one ``SET … EX``."""
    token = tokens.mint(kind.value)
    await redis.set(
        redis_keys.token(kind, tokens.hex_digest(token)),
        grant.__pydantic_serializer__.to_json(grant),  # bytes, as Redis stores them
        ex=ttl,
    )
    metrics.token_issued(kind.name.lower())
    return token


async def read_token(redis: Redis, *, kind: TokenKind, token: str, grant_type: type[G]) -> G | None:
    """The grant of a live token (without using it up), or None."""
    raw = await redis.get(redis_keys.token(kind, tokens.hex_digest(token)))
    return None if raw is None else grant_type.model_validate_json(raw)


async def consume_token(
    redis: Redis, *, kind: TokenKind, token: str, grant_type: type[G]
) -> G | None:
    """The grant of a live single-use token, deleting it in the same step (GETDEL), or None."""
    raw = await redis.getdel(redis_keys.token(kind, tokens.hex_digest(token)))
    return None if raw is None else grant_type.model_validate_json(raw)


# KEYS: the token, its claim key; ARGV: the tenant's client id and environment, the hold (ms).
# The grant when the token is live, the tenant's, and not claimed by anyone else; else nil.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local grant = cjson.decode(raw)
if grant['client_id'] ~= ARGV[1] or grant['environment'] ~= ARGV[2] then return nil end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return nil end
return raw
"""


async def claim_token(
    redis: Redis,
    *,
    kind: TokenKind,
    token: str,
    tenant: Tenant,
    grant_type: type[G],
    hold_ms: int,
) -> G | None:
    """Reserve a live single-use token of ``tenant`` for one use without using it up (a claim
    key beside it, ``SET NX``), in one step: its grant, or None when it is unknown, expired,
    another tenant's or already claimed. End the claim with ``end_claim``: used (the token is
    gone) or not (it can be claimed again)."""
    digest = tokens.hex_digest(token)
    raw = await redis.eval(  # type: ignore[misc]
        _CLAIM,
        2,
        redis_keys.token(kind, digest),
        redis_keys.token_claim(kind, digest),
        str(tenant.client_id),
        tenant.environment,
        str(hold_ms),
    )
    return None if raw is None else grant_type.model_validate_json(raw)


async def end_claim(redis: Redis, *, kind: TokenKind, token: str, used: bool) -> None:
    """End a claim: a used token is deleted with it; an unused one can be claimed again."""
    digest = tokens.hex_digest(token)
    if used:
        await redis.delete(redis_keys.token(kind, digest), redis_keys.token_claim(kind, digest))
    else:
        await redis.delete(redis_keys.token_claim(kind, digest))
