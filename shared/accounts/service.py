"""Linked-account rules that span Postgres, Redis and the in-process caches.

Tokens are not indexed per account: each records the ``created_at`` of the account it
was issued for, and every use checks it against the account (cached, evicted on every
replica when the account changes). Deleting an account, or deleting and creating it
again, therefore kills every token issued before, at no cost to issuing them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from shared import caches as invalidation
from shared.accounts import store
from shared.accounts.models import AccountFacts, LinkedAccount, Org
from shared.caches import Caches, Invalidation
from shared.connections import store as connection_store
from shared.errors import not_found
from shared.grants.models import Grant
from shared.infra.db import Pool
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks


async def ensure_account(
    *,
    pool: Pool,
    caches: Caches,
    tenant: Tenant,
    linked_account_id: str,
    org_id: str | None = None,
    emr_name: str | None = None,
    emr_instance_domain: str | None = None,
) -> AccountFacts:
    """Make sure the account (and its org) exist: a database write only when something is new."""
    key = (tenant.client_id, tenant.environment, linked_account_id)
    cached = caches.accounts.get(key)
    if cached is not None and (org_id is None or cached.org_id == org_id):
        return cached
    facts = await store.ensure_account(
        pool,
        tenant=tenant,
        linked_account_id=linked_account_id,
        org_id=org_id,
        emr_name=emr_name,
        emr_instance_domain=emr_instance_domain,
    )
    caches.accounts.put(key, facts)
    return facts


async def find_account(
    *, pool: Pool, caches: Caches, tenant: Tenant, linked_account_id: str
) -> AccountFacts | None:
    """The account's facts (cached once seen), or None when it does not exist."""
    key = (tenant.client_id, tenant.environment, linked_account_id)
    cached = caches.accounts.get(key)
    if cached is not None:
        return cached
    facts = await store.account_facts(pool, tenant=tenant, linked_account_id=linked_account_id)
    if facts is not None:
        caches.accounts.put(key, facts)
    return facts


async def require_account(
    *, pool: Pool, caches: Caches, tenant: Tenant, linked_account_id: str
) -> AccountFacts:
    """The account's facts; 404 unless the tenant has this account."""
    facts = await find_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=linked_account_id
    )
    if facts is None:
        raise not_found("linked account", field="linked_account_id")
    return facts


async def grant_is_current(*, pool: Pool, caches: Caches, grant: Grant) -> bool:
    """Whether the account a token was issued for still exists (and is the same account)."""
    facts = await find_account(
        pool=pool, caches=caches, tenant=grant.tenant, linked_account_id=grant.linked_account_id
    )
    return facts is not None and facts.created_at == grant.account_created_at


async def get_account(*, pool: Pool, tenant: Tenant, linked_account_id: str) -> LinkedAccount:
    """One account of the tenant; 404 when it has none by that id."""
    found = await store.get_account(pool, tenant=tenant, linked_account_id=linked_account_id)
    if found is None:
        raise not_found("linked account")
    return found


async def list_accounts(
    *, pool: Pool, tenant: Tenant, limit: int, cursor: str | None, org_id: str | None
) -> tuple[list[LinkedAccount], str | None]:
    """A page of the tenant's accounts ordered by id (of one org when given), and the next cursor."""
    return await store.list_accounts(pool, tenant=tenant, limit=limit, cursor=cursor, org_id=org_id)


async def numbered_page(
    *, pool: Pool, tenant: Tenant, page: int, limit: int
) -> tuple[list[LinkedAccount], int]:
    """Page ``page`` (from 1) of ``limit`` accounts ordered by id, and the total count."""
    return await store.numbered_page(pool, tenant=tenant, offset=(page - 1) * limit, limit=limit)


async def save_account(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    tenant: Tenant,
    linked_account_id: str,
    fields: dict[str, Any],
) -> tuple[LinkedAccount, bool]:
    """Create or update an account, then evict cached facts about it: (account, created)."""
    saved = await store.save_account(
        pool, tenant=tenant, linked_account_id=linked_account_id, fields=fields
    )
    await _announce_change(redis, caches, tenant, linked_account_id)
    return saved


async def update_account(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    tenant: Tenant,
    linked_account_id: str,
    fields: dict[str, Any],
) -> LinkedAccount:
    """Change some fields of an account (404 when the tenant has none by that id)."""
    updated = await store.update_account(
        pool, tenant=tenant, linked_account_id=linked_account_id, fields=fields
    )
    if updated is None:
        raise not_found("linked account")
    await _announce_change(redis, caches, tenant, linked_account_id)
    return updated


async def delete_account(
    *, pool: Pool, redis: Redis, caches: Caches, tenant: Tenant, linked_account_id: str
) -> None:
    """Delete the account and its connections, whose credentials are owed to their providers
    for revocation (``connections.revocation``) and each announced ``connection.deleted``;
    its tokens die with it (see above)."""
    async with pool.acquire() as conn, conn.transaction():
        gone = await connection_store.delete_account_connections(
            conn, tenant=tenant, linked_account_id=linked_account_id
        )
        deleted = await store.delete_account(
            conn, tenant=tenant, linked_account_id=linked_account_id
        )
    if not deleted:
        raise not_found("linked account")
    await _announce_change(redis, caches, tenant, linked_account_id)
    for connection in gone:
        await webhooks.notify_connection_deleted(pool=pool, redis=redis, connection=connection)


async def create_account(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    tenant: Tenant,
    linked_account_id: str,
    profile: dict[str, Any],
) -> tuple[LinkedAccount, bool]:
    """Create an account that must be new: (it, True), or (the existing one, False)."""
    account, created = await store.create_account(
        pool, tenant=tenant, linked_account_id=linked_account_id, profile=profile
    )
    if created:
        await _announce_change(redis, caches, tenant, linked_account_id)
    return account, created


async def find_by_uuid(*, pool: Pool, tenant: Tenant, uuid: UUID) -> LinkedAccount | None:
    """The tenant's account with this UUID (``account_uuid``), or None."""
    return await store.find_by_uuid(pool, tenant=tenant, uuid=uuid)


async def update_profile(
    *, pool: Pool, tenant: Tenant, linked_account_id: str, changes: dict[str, Any]
) -> LinkedAccount:
    """Merge ``changes`` into the account's profile; 404 when the tenant has no such account."""
    updated = await store.update_profile(
        pool, tenant=tenant, linked_account_id=linked_account_id, changes=changes
    )
    if updated is None:
        raise not_found("linked account")
    return updated


async def get_org(*, pool: Pool, tenant: Tenant, org_id: str) -> Org:
    """One org of the tenant; 404 when it has none by that id."""
    found = await store.get_org(pool, tenant=tenant, org_id=org_id)
    if found is None:
        raise not_found("org")
    return found


async def list_orgs(
    *, pool: Pool, tenant: Tenant, limit: int, cursor: str | None
) -> tuple[list[Org], str | None]:
    """A page of the tenant's orgs ordered by id, and the cursor of the next page."""
    return await store.list_orgs(pool, tenant=tenant, limit=limit, cursor=cursor)


async def _announce_change(
    redis: Redis, caches: Caches, tenant: Tenant, linked_account_id: str
) -> None:
    await invalidation.publish(
        redis,
        caches,
        Invalidation(
            kind="account",
            client_id=tenant.client_id,
            environment=tenant.environment,
            linked_account_id=linked_account_id,
        ),
    )
