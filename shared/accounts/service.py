"""Linked-account rules that span Postgres, Redis and the gateway caches.

Tokens are not indexed per account: each records the ``created_at`` of the account it
was issued for, and every use checks it against the account (cached, evicted on every
replica when the account changes). Deleting an account, or deleting and creating it
again, therefore kills every token issued before, at no cost to issuing them.
"""

from __future__ import annotations

from typing import Any

from shared.accounts import store
from shared.accounts.schemas import LinkedAccountRead, LinkedAccountSaved
from shared.accounts.store import AccountFacts
from shared.errors import not_found
from shared.infra import invalidation
from shared.infra.invalidation import Invalidation
from shared.infra.resources import Resources
from shared.tenancy import Tenant
from shared.tokens.models import Grant


async def ensure_account(
    res: Resources,
    *,
    tenant: Tenant,
    linked_account_id: str,
    org_id: str | None = None,
    emr_name: str | None = None,
    emr_instance_domain: str | None = None,
) -> AccountFacts:
    """Make sure the account (and its org) exist: a database write only when something is new."""
    key = (tenant.client_id, tenant.environment, linked_account_id)
    cached = res.caches.accounts.get(key)
    if cached is not None and (org_id is None or cached.org_id == org_id):
        return cached
    facts = await store.ensure_account(
        res.pool,
        tenant=tenant,
        linked_account_id=linked_account_id,
        org_id=org_id,
        emr_name=emr_name,
        emr_instance_domain=emr_instance_domain,
    )
    res.caches.accounts.put(key, facts)
    return facts


async def find_account(
    res: Resources, *, tenant: Tenant, linked_account_id: str
) -> AccountFacts | None:
    """The account's facts (cached once seen), or None when it does not exist."""
    key = (tenant.client_id, tenant.environment, linked_account_id)
    cached = res.caches.accounts.get(key)
    if cached is not None:
        return cached
    facts = await store.account_facts(res.pool, tenant=tenant, linked_account_id=linked_account_id)
    if facts is not None:
        res.caches.accounts.put(key, facts)
    return facts


async def require_account(
    res: Resources, *, tenant: Tenant, linked_account_id: str
) -> AccountFacts:
    """The account's facts; 404 unless the tenant has this account."""
    facts = await find_account(res, tenant=tenant, linked_account_id=linked_account_id)
    if facts is None:
        raise not_found("linked account", field="linked_account_id")
    return facts


async def grant_is_current(res: Resources, grant: Grant) -> bool:
    """Whether the account a token was issued for still exists (and is the same account)."""
    facts = await find_account(res, tenant=grant.tenant, linked_account_id=grant.linked_account_id)
    return facts is not None and facts.created_at == grant.account_created_at


async def save_account(
    res: Resources, *, tenant: Tenant, linked_account_id: str, fields: dict[str, Any]
) -> LinkedAccountSaved:
    """Create or update an account, then evict cached facts about it."""
    saved = await store.save_account(
        res.pool, tenant=tenant, linked_account_id=linked_account_id, fields=fields
    )
    await _announce_change(res, tenant, linked_account_id)
    return saved


async def update_account(
    res: Resources, *, tenant: Tenant, linked_account_id: str, fields: dict[str, Any]
) -> LinkedAccountRead:
    """Change some fields of an account (404 when the tenant has none by that id)."""
    updated = await store.update_account(
        res.pool, tenant=tenant, linked_account_id=linked_account_id, fields=fields
    )
    if updated is None:
        raise not_found("linked account")
    await _announce_change(res, tenant, linked_account_id)
    return updated


async def delete_account(res: Resources, *, tenant: Tenant, linked_account_id: str) -> None:
    """Delete the account and its connections (cascade); its tokens die with it (see above)."""
    if not await store.delete_account(res.pool, tenant=tenant, linked_account_id=linked_account_id):
        raise not_found("linked account")
    await _announce_change(res, tenant, linked_account_id)


async def _announce_change(res: Resources, tenant: Tenant, linked_account_id: str) -> None:
    await invalidation.publish(
        res.redis,
        res.caches,
        Invalidation(
            kind="account",
            client_id=tenant.client_id,
            environment=tenant.environment,
            linked_account_id=linked_account_id,
        ),
    )
