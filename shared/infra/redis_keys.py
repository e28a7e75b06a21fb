"""Every Redis key and channel Linkport uses. Tokens are named by their SHA-256, never by value."""

from __future__ import annotations

from uuid import UUID

from shared.infra.tokens import TokenKind

PREFIX = "lp:"

_TOKEN_NAMESPACE: dict[TokenKind, str] = {kind: kind.namespace for kind in TokenKind}

# Gateways publish cache evictions here (revoked key, changed settings, changed or deleted account).
INVALIDATION_CHANNEL = PREFIX + "invalidate"


def token(kind: TokenKind, token_hex_digest: str) -> str:
    """``lp:lt:{sha256}``, ``lp:st:{sha256}``, ``lp:pt:{sha256}``: one issued token's record."""
    return f"{PREFIX}{_TOKEN_NAMESPACE[kind]}:{token_hex_digest}"


def hosted_session(session_digest: str) -> str:
    """``lp:hs:{sha256(session id)}``: a browser's hosted Link session."""
    return f"{PREFIX}hs:{session_digest}"


def oauth_state(state_digest: str) -> str:
    """``lp:oauth:{sha256(state)}``: one OAuth round trip's state and PKCE verifier."""
    return f"{PREFIX}oauth:{state_digest}"


def sandbox_code(code_digest: str) -> str:
    """``lp:sbx:code:{sha256(code)}``: an authorization code the sandbox provider issued."""
    return f"{PREFIX}sbx:code:{code_digest}"


def worker_heartbeat(worker_name: str) -> str:
    """Written by each live worker on a cron; expires when the worker stops."""
    return f"{PREFIX}hb:worker:{worker_name}"


WORKER_HEARTBEAT_PATTERN = PREFIX + "hb:worker:*"


def refresh_lock(connection_id: object) -> str:
    """``lp:lock:refresh:{connection}``: held while one worker refreshes a connection's token."""
    return f"{PREFIX}lock:refresh:{connection_id}"


def token_claim(kind: TokenKind, token_hex_digest: str) -> str:
    """``lp:claim:{ns}:{sha256}``: held while one exchange of a single-use token is under way
    (the token itself is deleted only when the exchange has committed)."""
    return f"{PREFIX}claim:{_TOKEN_NAMESPACE[kind]}:{token_hex_digest}"


def rate_limit_client(client_id: UUID, environment: str) -> str:
    """``lp:rl:c:{client}:{environment}``: one tenant's request bucket."""
    return f"{PREFIX}rl:c:{client_id}:{environment}"


def rate_limit_account(client_id: UUID, environment: str, linked_account_id: str) -> str:
    """``lp:rl:a:{client}:{environment}:{linked account}``: one linked account's request bucket."""
    return f"{PREFIX}rl:a:{client_id}:{environment}:{linked_account_id}"


def auth_failures(source: str) -> str:
    """``lp:rl:auth:{address}``: failed authentications from one source address."""
    return f"{PREFIX}rl:auth:{source}"
