"""Linked accounts and the orgs they belong to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.accounts.models import AccountFacts, LinkedAccount, Org, account_uuid
from shared.infra.db import AnyConnection, Pool, Record
from shared.infra.pagination import decode_cursor, page
from shared.tenancy import Tenant

# The org is created in the same statement when new (and never overwritten when it exists).
_ENSURE_ORG = """
    org AS (
        INSERT INTO orgs (client_id, environment, org_id, emr_name, emr_instance_domain)
        SELECT $1, $2, $4::text, $5::text, $6::text WHERE $4::text IS NOT NULL
        ON CONFLICT DO NOTHING
    )"""


async def ensure_account(
    pool: Pool,
    *,
    tenant: Tenant,
    linked_account_id: str,
    org_id: str | None = None,
    emr_name: str | None = None,
    emr_instance_domain: str | None = None,
) -> AccountFacts:
    """Create the account (and its org) when new; move it to ``org_id`` when given and different.

    One round trip: the link-token routes call this for every new user.
    """
    row = await pool.fetchrow(
        f"""WITH {_ENSURE_ORG}
            INSERT INTO linked_accounts AS la
                (client_id, environment, linked_account_id, org_id, account_uuid)
            VALUES ($1, $2, $3, $4, $7)
            ON CONFLICT (client_id, environment, linked_account_id) DO UPDATE SET
                org_id = coalesce(EXCLUDED.org_id, la.org_id),
                updated_at = CASE WHEN la.org_id IS DISTINCT FROM coalesce(EXCLUDED.org_id, la.org_id)
                                  THEN now() ELSE la.updated_at END
            RETURNING created_at, org_id""",  # noqa: S608
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        org_id,
        emr_name,
        emr_instance_domain,
        account_uuid(tenant, linked_account_id),
    )
    assert row is not None
    return AccountFacts(row["created_at"], row["org_id"])


async def account_facts(
    pool: Pool, *, tenant: Tenant, linked_account_id: str
) -> AccountFacts | None:
    """When the tenant's account was created and its org, or None when there is no such account."""
    row = await pool.fetchrow(
        """SELECT created_at, org_id FROM linked_accounts
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return None if row is None else AccountFacts(row["created_at"], row["org_id"])


async def save_account(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, fields: dict[str, Any]
) -> tuple[LinkedAccount, bool]:
    """Create the account, or update the given ``fields`` of an existing one: (account, created)."""
    row = await pool.fetchrow(
        f"""WITH {_ENSURE_ORG}
            INSERT INTO linked_accounts AS la
                (client_id, environment, linked_account_id, name, metadata, org_id, account_uuid)
            VALUES ($1, $2, $3, $7, coalesce($8::jsonb, '{{}}'::jsonb), $4, $12)
            ON CONFLICT (client_id, environment, linked_account_id) DO UPDATE SET
                name = CASE WHEN $9 THEN EXCLUDED.name ELSE la.name END,
                metadata = CASE WHEN $10 THEN EXCLUDED.metadata ELSE la.metadata END,
                org_id = CASE WHEN $11 THEN EXCLUDED.org_id ELSE la.org_id END,
                updated_at = now()
            RETURNING *, (xmax = 0) AS created""",  # noqa: S608
        *_field_params(tenant, linked_account_id, fields),
        account_uuid(tenant, linked_account_id),
    )
    assert row is not None
    return _account(row), row["created"]


def _field_params(
    tenant: Tenant, linked_account_id: str, fields: dict[str, Any]
) -> tuple[Any, ...]:
    """$1-$11 of save/update: ids, org ($4, no EMR facts in $5/$6), values, and which were given."""
    return (
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        fields.get("org_id"),
        None,
        None,
        fields.get("name"),
        fields.get("metadata"),
        "name" in fields,
        "metadata" in fields,
        "org_id" in fields,
    )


async def update_account(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, fields: dict[str, Any]
) -> LinkedAccount | None:
    """Change the given fields; None when the tenant has no such account."""
    # The org is created only when the account exists: a 404 writes nothing.
    ensure_org = _ENSURE_ORG.replace(
        "WHERE $4::text IS NOT NULL",
        """WHERE $4::text IS NOT NULL AND EXISTS (SELECT 1 FROM linked_accounts
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3)""",
    )
    row = await pool.fetchrow(
        f"""WITH {ensure_org}
            UPDATE linked_accounts AS la SET
                name = CASE WHEN $9 THEN $7 ELSE la.name END,
                metadata = CASE WHEN $10 THEN coalesce($8::jsonb, '{{}}'::jsonb) ELSE la.metadata END,
                org_id = CASE WHEN $11 THEN $4 ELSE la.org_id END,
                updated_at = now()
            WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
            RETURNING *""",  # noqa: S608
        *_field_params(tenant, linked_account_id, fields),
    )
    return None if row is None else _account(row)


async def get_account(
    pool: Pool, *, tenant: Tenant, linked_account_id: str
) -> LinkedAccount | None:
    """One linked account of the tenant, or None."""
    row = await pool.fetchrow(
        """SELECT * FROM linked_accounts
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return None if row is None else _account(row)


async def list_accounts(
    pool: Pool, *, tenant: Tenant, limit: int, cursor: str | None, org_id: str | None
) -> tuple[list[LinkedAccount], str | None]:
    """A page of the tenant's accounts ordered by id, and the cursor of the next page."""
    rows = await pool.fetch(
        """SELECT * FROM linked_accounts
           WHERE client_id = $1 AND environment = $2
             AND ($3::text IS NULL OR linked_account_id > $3)
             AND ($4::text IS NULL OR org_id = $4)
           ORDER BY linked_account_id LIMIT $5""",
        tenant.client_id,
        tenant.environment,
        decode_cursor(cursor),
        org_id,
        limit + 1,
    )
    return page([_account(r) for r in rows], limit=limit, key=lambda a: a.linked_account_id)


async def numbered_page(
    pool: Pool, *, tenant: Tenant, offset: int, limit: int
) -> tuple[list[LinkedAccount], int]:
    """Accounts ``offset`` to ``offset + limit`` ordered by id, and how many there are in all
    (for APIs that page by number, not by cursor)."""
    rows = await pool.fetch(
        """SELECT *, count(*) OVER () AS total FROM linked_accounts
           WHERE client_id = $1 AND environment = $2
           ORDER BY linked_account_id OFFSET $3 LIMIT $4""",
        tenant.client_id,
        tenant.environment,
        offset,
        limit,
    )
    if rows:
        return [_account(r) for r in rows], rows[0]["total"]
    total: int = await pool.fetchval(
        "SELECT count(*) FROM linked_accounts WHERE client_id = $1 AND environment = $2",
        tenant.client_id,
        tenant.environment,
    )
    return [], total


async def delete_account(
    pool: Pool | AnyConnection, *, tenant: Tenant, linked_account_id: str
) -> bool:
    """Delete the account, its events (with their executions) and, by cascade, its connections
    and configs, in one statement; False when there was none."""
    deleted = await pool.fetchval(
        """WITH account AS (
               DELETE FROM linked_accounts
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
               RETURNING 1),
           events AS (
               DELETE FROM events
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
                 AND EXISTS (SELECT 1 FROM account))
           SELECT 1 FROM account""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
    )
    return deleted is not None


def _account(row: Record) -> LinkedAccount:
    tenant = Tenant(row["client_id"], row["environment"])
    return LinkedAccount(
        linked_account_id=row["linked_account_id"],
        name=row["name"],
        metadata=row["metadata"],
        org_id=row["org_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        account_uuid=row["account_uuid"] or account_uuid(tenant, row["linked_account_id"]),
        profile=row["profile"],
    )


async def create_account(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, profile: dict[str, Any]
) -> tuple[LinkedAccount, bool]:
    """Create the account with its UUID and profile: (the account, True), or (the existing
    account, False) when the id is taken (it is left unchanged)."""
    row: Record | None = None
    while row is None:  # None only when a concurrent create won after this statement began
        row = await pool.fetchrow(
            """WITH created AS (
                   INSERT INTO linked_accounts
                       (client_id, environment, linked_account_id, account_uuid, profile)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (client_id, environment, linked_account_id) DO NOTHING
                   RETURNING *, true AS created)
               SELECT * FROM created
               UNION ALL
               SELECT *, false FROM linked_accounts
               WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
                 AND NOT EXISTS (SELECT 1 FROM created)""",
            tenant.client_id,
            tenant.environment,
            linked_account_id,
            account_uuid(tenant, linked_account_id),
            profile,
        )
    return _account(row), row["created"]


async def find_by_uuid(pool: Pool, *, tenant: Tenant, uuid: UUID) -> LinkedAccount | None:
    """The tenant's account with this UUID, or None. Accounts created before UUIDs were stored
    (or by raw SQL) get theirs when a lookup misses, so a miss is answered only after that."""
    query = """SELECT * FROM linked_accounts
               WHERE client_id = $1 AND environment = $2 AND account_uuid = $3"""
    row = await pool.fetchrow(query, tenant.client_id, tenant.environment, uuid)
    if row is None and await _store_missing_uuids(pool, tenant=tenant):
        row = await pool.fetchrow(query, tenant.client_id, tenant.environment, uuid)
    return None if row is None else _account(row)


async def _store_missing_uuids(pool: Pool, *, tenant: Tenant) -> bool:
    """Give the tenant's accounts without a stored UUID theirs; whether there were any."""
    missing = await pool.fetch(
        """SELECT linked_account_id FROM linked_accounts
           WHERE client_id = $1 AND environment = $2 AND account_uuid IS NULL""",
        tenant.client_id,
        tenant.environment,
    )
    if not missing:
        return False
    ids = [r["linked_account_id"] for r in missing]
    await pool.execute(
        """UPDATE linked_accounts AS la SET account_uuid = m.uuid
           FROM unnest($3::text[], $4::uuid[]) AS m(id, uuid)
           WHERE la.client_id = $1 AND la.environment = $2 AND la.linked_account_id = m.id
             AND la.account_uuid IS NULL""",
        tenant.client_id,
        tenant.environment,
        ids,
        [account_uuid(tenant, i) for i in ids],
    )
    return True


async def update_profile(
    pool: Pool, *, tenant: Tenant, linked_account_id: str, changes: dict[str, Any]
) -> LinkedAccount | None:
    """Merge ``changes`` into the account's profile (storing its UUID too); None when the
    tenant has no such account."""
    row = await pool.fetchrow(
        """UPDATE linked_accounts SET profile = profile || $4::jsonb,
               account_uuid = coalesce(account_uuid, $5), updated_at = now()
           WHERE client_id = $1 AND environment = $2 AND linked_account_id = $3
           RETURNING *""",
        tenant.client_id,
        tenant.environment,
        linked_account_id,
        changes,
        account_uuid(tenant, linked_account_id),
    )
    return None if row is None else _account(row)


async def count_accounts(pool: Pool, *, tenant: Tenant) -> int:
    """How many linked accounts the tenant has."""
    total: int = await pool.fetchval(
        "SELECT count(*) FROM linked_accounts WHERE client_id = $1 AND environment = $2",
        tenant.client_id,
        tenant.environment,
    )
    return total


async def get_org(pool: Pool, *, tenant: Tenant, org_id: str) -> Org | None:
    """One org of the tenant, or None."""
    row = await pool.fetchrow(
        "SELECT * FROM orgs WHERE client_id = $1 AND environment = $2 AND org_id = $3",
        tenant.client_id,
        tenant.environment,
        org_id,
    )
    return None if row is None else _org(row)


async def list_orgs(
    pool: Pool, *, tenant: Tenant, limit: int, cursor: str | None
) -> tuple[list[Org], str | None]:
    """A page of the tenant's orgs ordered by id, and the cursor of the next page."""
    rows = await pool.fetch(
        """SELECT * FROM orgs WHERE client_id = $1 AND environment = $2
             AND ($3::text IS NULL OR org_id > $3)
           ORDER BY org_id LIMIT $4""",
        tenant.client_id,
        tenant.environment,
        decode_cursor(cursor),
        limit + 1,
    )
    return page([_org(r) for r in rows], limit=limit, key=lambda o: o.org_id)


def _org(row: Record) -> Org:
    return Org(
        org_id=row["org_id"],
        emr_name=row["emr_name"],
        emr_instance_domain=row["emr_instance_domain"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
