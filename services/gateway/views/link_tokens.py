"""Link tokens: ``POST /v1/link/token/create`` (EMR shape) and their exchange. The wearables
shape, ``POST /v2/link/token``, is Vital's: ``services/gateway/faces/vital.py``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Router
from shared.config import Settings
from shared.link import exchange as access_tokens
from shared.link import schemas as link_schemas
from shared.link import service as link_tokens
from shared.link.schemas import (
    LinkTokenCreate,
    LinkTokenCreated,
    PublicTokenExchange,
    PublicTokenExchanged,
)

router = Router("link tokens")

# The summaries state the default lifetimes, which are written once, in Settings.
_LINK_MINUTES = Settings.model_fields["link_token_ttl"].default // 60


@router.route(
    "POST",
    "/v1/link/token/create",
    aliases=("/link/token/create",),
    summary=(
        f"Create a link token (single use, {_LINK_MINUTES} min); creates the user and org when new"
    ),
    body=LinkTokenCreate,
    response=LinkTokenCreated,
)
async def create_link_token(call: Call, body: LinkTokenCreate) -> LinkTokenCreated:
    res = call.resources
    token = await link_tokens.issue_link_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=res.settings.link_token_ttl,
        tenant=call.tenant,
        request=body,
    )
    return LinkTokenCreated(token=token)


@router.route(
    "POST",
    "/v1/link/token/exchange",
    aliases=("/link/token/exchange",),
    summary="Exchange a public token for a permanent access token (single use)",
    body=PublicTokenExchange,
    response=PublicTokenExchanged,
)
async def exchange_public_token(call: Call, body: PublicTokenExchange) -> PublicTokenExchanged:
    return await _exchange(call, body.public_token)


async def _exchange(call: Call, public_token: str) -> PublicTokenExchanged:
    res = call.resources
    return await access_tokens.exchange_public_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        public_token=public_token,
    )


@router.route(
    "GET",
    "/v1/link/token/exchange",
    aliases=("/link/token/exchange",),
    summary="Exchange a public token (EMR API reference: in the query) for an access token",
    query=link_schemas.PublicTokenQuery,
    response=link_schemas.PublicTokenExchangedAsToken,
)
async def exchange_public_token_by_query(
    call: Call, query: link_schemas.PublicTokenQuery
) -> link_schemas.PublicTokenExchangedAsToken:
    exchanged = await _exchange(call, query.public_token)
    return link_schemas.PublicTokenExchangedAsToken(
        **exchanged.model_dump(), token=exchanged.access_token
    )
