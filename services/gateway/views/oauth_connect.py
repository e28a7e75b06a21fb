"""Headless OAuth connect for backends with their own UI: ``POST /v1/connect/oauth-url``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.link import headless
from shared.link.schemas import HeadlessOAuthCreate, HeadlessOAuthCreated

router = Router("connect")


@router.route(
    "POST",
    "/v1/connect/oauth-url",
    summary=(
        "An OAuth app's authorization URL for one linked account, without the hosted page "
        "(single-use state; the callback ends at redirect_url)"
    ),
    body=HeadlessOAuthCreate,
    response=HeadlessOAuthCreated,
    status=201,
)
async def create_oauth_url(call: Call, body: HeadlessOAuthCreate) -> Reply:
    res = call.resources
    started = await headless.start_oauth(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        keyring=res.keyring,
        catalog=res.catalog,
        http=res.http,
        settings=res.settings,
        tenant=call.tenant,
        request=body,
    )
    return Reply(
        HeadlessOAuthCreated(
            authorize_url=started.authorize_url, state_expires_at=started.state_expires_at
        ),
        201,
    )
