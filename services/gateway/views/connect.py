"""The hosted Connect URL for frontends: ``POST /v1/connect/hosted``."""

from __future__ import annotations

from services.gateway.endpoints import Access, Call, Reply, Router
from shared.link import service as link_tokens
from shared.sessions.schemas import HostedConnectCreate, HostedConnectCreated

router = Router("connect")


@router.route(
    "POST",
    "/v1/connect/hosted",
    summary="A single-use hosted Link URL for one linked account (session token, or server + linked_account_id)",
    access=Access.SERVER_OR_SESSION,
    body=HostedConnectCreate,
    response=HostedConnectCreated,
    status=201,
)
async def create_hosted_url(call: Call, body: HostedConnectCreate) -> Reply:
    res = call.resources
    issued = await link_tokens.issue_connect_link_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=res.settings.link_token_ttl,
        tenant=call.tenant,
        linked_account_id=call.acting_account(body.linked_account_id),
        color=body.color,
        display_name=body.name,
    )
    url = f"{res.settings.base_url.rstrip('/')}/link?token={issued.token}"
    return Reply(HostedConnectCreated(hosted_url=url, expires_at=issued.expires_at), 201)
