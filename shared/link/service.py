"""Issuing link tokens: the start of the Link flow, in the EMR and wearables shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Unpack
from uuid import UUID

from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.accounts import store as account_store
from shared.accounts.models import AccountFacts
from shared.apps import service as apps
from shared.caches import Caches
from shared.clients import service as client_settings
from shared.connections import store as connections
from shared.connectors.catalog import Catalog
from shared.errors import ApiError, ErrorCode, not_found
from shared.grants import store as token_store
from shared.grants.models import IssuedToken, LinkFlow, LinkGrant, LinkOptions
from shared.infra import tokens
from shared.infra.db import Pool
from shared.infra.tokens import TokenKind
from shared.link.schemas import LinkTokenCreate, WearablesLinkTokenCreate
from shared.tenancy import Tenant


async def issue_link_token(
    *, pool: Pool, redis: Redis, caches: Caches, ttl: int, tenant: Tenant, request: LinkTokenCreate
) -> str:
    """An EMR-shape link token (single use, ``ttl`` seconds); creates the user and org when new."""
    update_connection_id = None
    if request.access_token is not None:
        update_connection_id = await _connection_to_update(
            pool=pool, tenant=tenant, access_token=request.access_token, user_id=request.user_id
        )
    account = await accounts.ensure_account(
        pool=pool,
        caches=caches,
        tenant=tenant,
        linked_account_id=request.user_id,
        org_id=request.org_id,
        emr_name=request.emr_name,
        emr_instance_domain=request.emr_instance_domain,
    )
    issued = await _issue(
        redis=redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=request.user_id,
        account=account,
        flow=LinkFlow.EMR,
        org_id=request.org_id,
        emr_name=request.emr_name,
        update_connection_id=update_connection_id,
    )
    return issued.token


async def issue_wearables_link_token(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    ttl: int,
    tenant: Tenant,
    request: WearablesLinkTokenCreate,
) -> str:
    """A wearables-shape link token (single use, ``ttl`` seconds); ``redirect_url`` must be
    allow-listed."""
    if request.redirect_url is not None:
        await client_settings.check_redirect_url(
            pool=pool, caches=caches, tenant=tenant, url=request.redirect_url
        )
    account = await accounts.ensure_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=request.user_id
    )
    issued = await _issue(
        redis=redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=request.user_id,
        account=account,
        flow=LinkFlow.WEARABLES,
        provider=request.provider,
        filter_on_providers=request.filter_on_providers,
        redirect_url=request.redirect_url,
    )
    return issued.token


async def issue_vital_link_token(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    catalog: Catalog,
    ttl: int,
    tenant: Tenant,
    linked_account_id: str,
    provider: str | None,
    filter_on_providers: list[str] | None,
    redirect_url: str | None,
) -> IssuedToken:
    """A link token for an existing account, in Vital's flow (single use, ``ttl`` seconds).

    Its options are checked now, not silently dropped later: ``provider`` must be an app the
    tenant offers (and within ``filter_on_providers``), and ``filter_on_providers`` must leave
    at least one (400 ``app_not_offered``); ``redirect_url`` must be allow-listed.
    """
    if redirect_url is not None:
        await client_settings.check_redirect_url(
            pool=pool, caches=caches, tenant=tenant, url=redirect_url
        )
    offered = {
        app.slug for app in await apps.enabled_apps(pool=pool, catalog=catalog, tenant=tenant)
    }
    if filter_on_providers is not None:
        offered &= set(filter_on_providers)
        if not offered:
            raise ApiError(
                ErrorCode.APP_NOT_OFFERED,
                "filter_on_providers leaves no provider: none of them is an app this client "
                "offers (GET /v1/apps)",
                field="filter_on_providers",
            )
    if provider is not None and provider not in offered:
        raise ApiError(
            ErrorCode.APP_NOT_OFFERED,
            f"provider {provider!r} is not an app this client offers"
            + (" within filter_on_providers" if filter_on_providers is not None else "")
            + " (GET /v1/apps lists them; PUT /v1/apps/{slug} enables one)",
            field="provider",
        )
    account = await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=linked_account_id
    )
    return await _issue(
        redis=redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=linked_account_id,
        account=account,
        flow=LinkFlow.VITAL,
        provider=provider,
        filter_on_providers=filter_on_providers,
        redirect_url=redirect_url,
    )


async def issue_connect_link_token(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    ttl: int,
    tenant: Tenant,
    linked_account_id: str,
    color: str | None,
    display_name: str | None,
    provider: str | None = None,
) -> IssuedToken:
    """A link token behind a frontend's hosted Connect URL (``POST /v1/connect/hosted``);
    with ``provider``, the hosted page opens that app directly."""
    account = await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=linked_account_id
    )
    return await _issue(
        redis=redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=linked_account_id,
        account=account,
        flow=LinkFlow.CONNECT,
        org_id=account.org_id,
        color=color,
        display_name=display_name,
        provider=provider,
    )


async def issue_reauth_link_token(
    *,
    pool: Pool,
    redis: Redis,
    ttl: int,
    tenant: Tenant,
    linked_account_id: str,
    connection_id: UUID,
) -> IssuedToken | None:
    """An update-mode link token that sends the account's user back through Link to authorise
    one connection again (``connection.needs_reauth`` webhooks carry one); None when the
    account is gone. Reads the account from Postgres: workers keep no invalidated caches."""
    account = await account_store.account_facts(
        pool, tenant=tenant, linked_account_id=linked_account_id
    )
    if account is None:
        return None
    return await _issue(
        redis=redis,
        ttl=ttl,
        tenant=tenant,
        linked_account_id=linked_account_id,
        account=account,
        flow=LinkFlow.EMR,
        org_id=account.org_id,
        update_connection_id=connection_id,
    )


async def consume_link_token(
    *, pool: Pool, redis: Redis, caches: Caches, token: str
) -> LinkGrant | None:
    """Use up a link token: its grant, or None when unknown, expired, already used, or
    issued for an account that has since been deleted."""
    grant = await token_store.consume_token(
        redis, kind=TokenKind.LINK, token=token, grant_type=LinkGrant
    )
    if grant is None or not await accounts.grant_is_current(pool=pool, caches=caches, grant=grant):
        return None
    return grant


async def read_link_token(
    *, pool: Pool, redis: Redis, caches: Caches, token: str
) -> LinkGrant | None:
    """The grant of a live link token without using it up (for calls made on the way to
    the flow, such as listing its apps), or None like ``consume_link_token``."""
    grant = await token_store.read_token(
        redis, kind=TokenKind.LINK, token=token, grant_type=LinkGrant
    )
    if grant is None or not await accounts.grant_is_current(pool=pool, caches=caches, grant=grant):
        return None
    return grant


async def _connection_to_update(
    *, pool: Pool, tenant: Tenant, access_token: str, user_id: str
) -> UUID:
    found = await connections.find_by_access_token(
        pool, tenant=tenant, token_hash=tokens.digest(access_token)
    )
    if found is None or found.linked_account_id != user_id:
        raise not_found("connection for this access_token and user_id", field="access_token")
    return found.id


async def _issue(
    *,
    redis: Redis,
    ttl: int,
    tenant: Tenant,
    linked_account_id: str,
    account: AccountFacts,
    flow: LinkFlow,
    **options: Unpack[LinkOptions],
) -> IssuedToken:
    """Store a link grant with the given options (typed: a misspelt one is a type error). Only
    the options given reach the grant; the others keep its defaults without being validated."""
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
    grant = LinkGrant(
        client_id=tenant.client_id,
        environment=tenant.environment,
        linked_account_id=linked_account_id,
        account_created_at=account.created_at,
        expires_at=expires_at,
        flow=flow,
        **options,
    )
    token = await token_store.store_token(redis, kind=TokenKind.LINK, grant=grant, ttl=ttl)
    return IssuedToken(token, expires_at)
