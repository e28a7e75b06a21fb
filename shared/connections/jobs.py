"""The worker's connection crons: refresh tokens before they expire, revoke deleted ones."""

from __future__ import annotations

from typing import Any

from shared.connections import revocation
from shared.connections.credentials import CredentialSource, refresh_due

Ctx = dict[str, Any]


def _source(ctx: Ctx) -> CredentialSource:
    source: CredentialSource = ctx["runner"].credentials  # built once by the worker's startup
    return source


async def refresh_tokens(ctx: Ctx) -> int:
    """Cron: refresh the OAuth tokens about to expire (see ``credentials.refresh_due``)."""
    return await refresh_due(_source(ctx))


async def revoke_tokens(ctx: Ctx) -> dict[str, int]:
    """Cron: revoke deleted connections' tokens at their providers (see ``revocation``)."""
    counts = await revocation.revoke_owed(_source(ctx))
    return {outcome: n for outcome, n in counts.items()}


def every(seconds: int) -> tuple[set[int] | None, set[int]]:
    """arq cron ``(minute, second)`` for a run every ``seconds`` (past a minute: whole
    minutes, rounded down)."""
    if seconds < 60:
        return None, set(range(0, 60, seconds))
    return set(range(0, 60, max(1, seconds // 60))), {0}
