"""Link tokens: ``POST /v1/link/token/create`` (EMR shape) and ``POST /v2/link/token`` (wearables)."""

from __future__ import annotations

from services.gateway.endpoints import Call, Router
from shared.link import exchange as access_tokens
from shared.link import service as link_tokens
from shared.link.schemas import (
    LinkTokenCreate,
    LinkTokenCreated,
    PublicTokenExchange,
    PublicTokenExchanged,
    WearablesLinkTokenCreate,
    WearablesLinkTokenCreated,
)

router = Router("link tokens")


@router.route(
    "POST",
    "/v1/link/token/create",
    aliases=("/link/token/create",),
    summary="Create a link token (single use, 30 min); creates the user and org when new",
    body=LinkTokenCreate,
    response=LinkTokenCreated,
)
async def create_link_token(call: Call, body: LinkTokenCreate) -> LinkTokenCreated:
    token = await link_tokens.issue_link_token(call.resources, tenant=call.tenant, request=body)
    return LinkTokenCreated(token=token)


@router.route(
    "POST",
    "/v2/link/token",
    summary="Create a link token, wearables shape (single use, 10 min)",
    body=WearablesLinkTokenCreate,
    response=WearablesLinkTokenCreated,
    vital_header=True,
)
async def create_wearables_link_token(
    call: Call, body: WearablesLinkTokenCreate
) -> WearablesLinkTokenCreated:
    token = await link_tokens.issue_wearables_link_token(
        call.resources, tenant=call.tenant, request=body
    )
    return WearablesLinkTokenCreated(link_token=token)


@router.route(
    "POST",
    "/v1/link/token/exchange",
    aliases=("/link/token/exchange",),
    summary="Exchange a public token for a permanent access token (single use)",
    body=PublicTokenExchange,
    response=PublicTokenExchanged,
)
async def exchange_public_token(call: Call, body: PublicTokenExchange) -> PublicTokenExchanged:
    return await access_tokens.exchange_public_token(
        call.resources, tenant=call.tenant, public_token=body.public_token
    )
