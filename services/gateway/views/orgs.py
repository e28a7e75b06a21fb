"""Orgs: ``/v1/orgs`` (created by link-token and linked-account requests)."""

from __future__ import annotations

from services.gateway.endpoints import Call, Router
from shared.accounts import store
from shared.accounts.schemas import OrgRead
from shared.errors import not_found
from shared.schemas import Page, PageQuery

router = Router("orgs")


@router.route(
    "GET", "/v1/orgs", summary="List orgs, ordered by id", query=PageQuery, response=Page[OrgRead]
)
async def list_orgs(call: Call, query: PageQuery) -> Page[OrgRead]:
    items, next_cursor = await store.list_orgs(
        call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
    )
    return Page[OrgRead](data=items, next_cursor=next_cursor)


@router.route("GET", "/v1/orgs/{org_id}", summary="Get one org", response=OrgRead)
async def get_org(call: Call) -> OrgRead:
    found = await store.get_org(call.resources.pool, tenant=call.tenant, org_id=call.path("org_id"))
    if found is None:
        raise not_found("org")
    return found
