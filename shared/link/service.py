"""Issuing link tokens: the start of the Link flow, in the EMR and wearables shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from shared.accounts import service as accounts
from shared.accounts.store import AccountFacts
from shared.clients import service as client_settings
from shared.connections import store as connections
from shared.errors import not_found
from shared.infra.resources import Resources
from shared.link.schemas import LinkTokenCreate, WearablesLinkTokenCreate
from shared.tenancy import Tenant
from shared.tokens import service as tokens
from shared.tokens import store as token_store
from shared.tokens.models import LinkGrant
from shared.tokens.service import TokenKind


async def issue_link_token(res: Resources, *, tenant: Tenant, request: LinkTokenCreate) -> str:
    """An EMR-shape link token (30 min, single use); creates the user and org when new."""
    update_connection_id = None
    if request.access_token is not None:
        update_connection_id = await _connection_to_update(
            res, tenant=tenant, access_token=request.access_token, user_id=request.user_id
        )
    account = await accounts.ensure_account(
        res,
        tenant=tenant,
        linked_account_id=request.user_id,
        org_id=request.org_id,
        emr_name=request.emr_name,
        emr_instance_domain=request.emr_instance_domain,
    )
    return await _issue(
        res,
        tenant=tenant,
        account_id=request.user_id,
        account=account,
        ttl=res.settings.link_token_ttl,
        flow="emr",
        org_id=request.org_id,
        emr_name=request.emr_name,
        update_connection_id=update_connection_id,
    )


async def issue_wearables_link_token(
    res: Resources, *, tenant: Tenant, request: WearablesLinkTokenCreate
) -> str:
    """A wearables-shape link token (10 min, single use); ``redirect_url`` must be allow-listed."""
    if request.redirect_url is not None:
        await client_settings.check_redirect_url(res, tenant=tenant, url=request.redirect_url)
    account = await accounts.ensure_account(res, tenant=tenant, linked_account_id=request.user_id)
    return await _issue(
        res,
        tenant=tenant,
        account_id=request.user_id,
        account=account,
        ttl=res.settings.wearables_link_token_ttl,
        flow="wearables",
        provider=request.provider,
        filter_on_providers=request.filter_on_providers,
        redirect_url=request.redirect_url,
    )


async def issue_connect_link_token(
    res: Resources,
    *,
    tenant: Tenant,
    linked_account_id: str,
    color: str | None,
    display_name: str | None,
) -> tuple[str, datetime]:
    """A link token behind a frontend's hosted Connect URL (``POST /v1/connect/hosted``)."""
    account = await accounts.require_account(
        res, tenant=tenant, linked_account_id=linked_account_id
    )
    ttl = res.settings.link_token_ttl
    token = await _issue(
        res,
        tenant=tenant,
        account_id=linked_account_id,
        account=account,
        ttl=ttl,
        flow="connect",
        org_id=account.org_id,
        color=color,
        display_name=display_name,
    )
    return token, datetime.now(UTC) + timedelta(seconds=ttl)


async def _connection_to_update(
    res: Resources, *, tenant: Tenant, access_token: str, user_id: str
) -> UUID:
    found = await connections.find_by_access_token(
        res.pool, tenant=tenant, token_hash=tokens.digest(access_token)
    )
    if found is None or found.linked_account_id != user_id:
        raise not_found("connection for this access_token and user_id", field="access_token")
    return found.id


async def _issue(
    res: Resources,
    *,
    tenant: Tenant,
    account_id: str,
    account: AccountFacts,
    ttl: int,
    **options: Any,
) -> str:
    grant = LinkGrant(
        client_id=tenant.client_id,
        environment=tenant.environment,
        linked_account_id=account_id,
        account_created_at=account.created_at,
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        **options,
    )
    return await token_store.store_token(res.redis, kind=TokenKind.LINK, grant=grant, ttl=ttl)


async def consume_link_token(res: Resources, *, token: str) -> LinkGrant | None:
    """Use up a link token: its grant, or None when unknown, expired, already used, or
    issued for an account that has since been deleted."""
    grant = await token_store.consume_token(
        res.redis, kind=TokenKind.LINK, token=token, grant_type=LinkGrant
    )
    if grant is None or not await accounts.grant_is_current(res, grant):
        return None
    return grant
