"""Reading credentials from request headers and turning them into a principal."""

from __future__ import annotations

from aiohttp import web

from shared.clients import api_keys
from shared.errors import ApiError, ErrorCode
from shared.infra.tokens import TokenKind
from shared.resources import Resources
from shared.sessions import service as session_tokens
from shared.tenancy import Principal

_MISSING = (
    "missing credentials: send the client_id and client_secret headers, an X-API-Key header, "
    "or Authorization: Bearer <api key>"
)


def _unauthenticated(message: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHENTICATED, message)


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(
    request: web.Request, res: Resources, *, allow_session: bool, vital_header: bool
) -> Principal:
    """The caller's principal, or a 401 (403 for a session token on a server-only route)."""
    headers = request.headers
    public_client_id, client_secret = headers.get("client_id"), headers.get("client_secret")
    if public_client_id is not None or client_secret is not None:
        if not public_client_id or not client_secret:
            raise _unauthenticated("send both the client_id and client_secret headers")
        principal = await api_keys.authenticate_client_secret(
            pool=res.pool,
            caches=res.caches,
            public_client_id=public_client_id,
            client_secret=client_secret,
        )
        if principal is None:
            raise _unauthenticated("invalid client_id or client_secret")
        return principal

    api_key = headers.get("X-API-Key") or (headers.get("x-vital-api-key") if vital_header else None)
    bearer = _bearer(request)
    if api_key is None and bearer is not None and bearer.startswith(TokenKind.SESSION.value):
        if not allow_session:
            raise ApiError(
                ErrorCode.SESSION_TOKEN_NOT_ALLOWED,
                "session tokens are for frontend routes; call this route from your server "
                "with an API key or client secret",
            )
        session = await session_tokens.authenticate_session(
            pool=res.pool, redis=res.redis, caches=res.caches, token=bearer
        )
        if session is None:
            raise _unauthenticated("session token is invalid or has expired")
        return session
    api_key = api_key or bearer
    if not api_key:
        raise _unauthenticated(
            "missing credentials: send your API key in the x-vital-api-key header"
            if vital_header
            else _MISSING
        )
    server = await api_keys.authenticate_api_key(pool=res.pool, caches=res.caches, api_key=api_key)
    if server is None:
        raise _unauthenticated("invalid API key")
    return server
