"""Session tokens for frontends: ``POST /v1/session-tokens``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.config import Settings
from shared.sessions import service as session_tokens
from shared.sessions.schemas import SessionTokenCreate, SessionTokenCreated

router = Router("session tokens")

# The summary states the default lifetime, which is written once, in Settings.
_SESSION_HOURS = Settings.model_fields["session_token_ttl"].default // 3600


@router.route(
    "POST",
    "/v1/session-tokens",
    summary=f"Create a {_SESSION_HOURS}-hour session token for one linked account",
    body=SessionTokenCreate,
    response=SessionTokenCreated,
    status=201,
)
async def create_session_token(call: Call, body: SessionTokenCreate) -> Reply:
    res = call.resources
    issued = await session_tokens.issue_session_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=res.settings.session_token_ttl,
        tenant=call.tenant,
        linked_account_id=body.linked_account_id,
    )
    return Reply(SessionTokenCreated(token=issued.token, expires_at=issued.expires_at), 201)
