"""Session tokens for frontends: ``POST /v1/session-tokens``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.sessions import service as session_tokens
from shared.sessions.schemas import SessionTokenCreate, SessionTokenCreated

router = Router("session tokens")


@router.route(
    "POST",
    "/v1/session-tokens",
    summary="Create a 24-hour session token for one linked account",
    body=SessionTokenCreate,
    response=SessionTokenCreated,
    status=201,
)
async def create_session_token(call: Call, body: SessionTokenCreate) -> Reply:
    token, expires_at = await session_tokens.issue_session_token(
        call.resources, tenant=call.tenant, linked_account_id=body.linked_account_id
    )
    return Reply(SessionTokenCreated(token=token, expires_at=expires_at), 201)
