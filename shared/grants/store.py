"""Short-lived tokens in Redis: stored under their hash with a TTL, consumed atomically."""

from __future__ import annotations

from typing import TypeVar

from redis.asyncio import Redis

from shared.grants.models import Grant
from shared.infra import redis_keys, tokens
from shared.infra.tokens import TokenKind

G = TypeVar("G", bound=Grant)


async def store_token(redis: Redis, *, kind: TokenKind, grant: Grant, ttl: int) -> str:
    """Mint a token for ``grant`` and keep it ``ttl`` seconds: one ``SET … EX``."""
    token = tokens.mint(kind.value)
    await redis.set(
        redis_keys.token(kind, tokens.hex_digest(token)),
        grant.__pydantic_serializer__.to_json(grant),  # bytes, as Redis stores them
        ex=ttl,
    )
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
