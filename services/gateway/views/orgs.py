"""Orgs: ``/v1/orgs`` (created by link-token and linked-account requests)."""

from __future__ import annotations

from services.gateway.endpoints import Call, Router
from shared.accounts import service as accounts
from shared.accounts.schemas import OrgRead
from shared.schemas import Page, PageQuery

router = Router("orgs")


@router.route(
    "GET", "/v1/orgs", summary="List orgs, ordered by id", query=PageQuery, response=Page[OrgRead]
)
async def list_orgs(call: Call, query: PageQuery) -> Page[OrgRead]:
    items, next_cursor = await accounts.list_orgs(
        pool=call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
    )
    return Page[OrgRead](data=[OrgRead.of(o) for o in items], next_cursor=next_cursor)


@router.route("GET", "/v1/orgs/{org_id}", summary="Get one org", response=OrgRead)
async def get_org(call: Call) -> OrgRead:
    org = await accounts.get_org(
        pool=call.resources.pool, tenant=call.tenant, org_id=call.path("org_id")
    )
    return OrgRead.of(org)
