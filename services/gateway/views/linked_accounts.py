"""Linked accounts: ``/v1/linked-accounts``."""

from __future__ import annotations

from pydantic import Field

from services.gateway.endpoints import Call, Reply, Router
from shared.accounts import service as accounts
from shared.accounts.schemas import (
    LinkedAccountCreate,
    LinkedAccountRead,
    LinkedAccountSaved,
    LinkedAccountUpdate,
)
from shared.schemas import Deleted, ExternalId, Page, PageQuery

router = Router("linked accounts")


class LinkedAccountQuery(PageQuery):
    """Filters of ``GET /v1/linked-accounts``."""

    org_id: ExternalId | None = Field(default=None, description="only accounts of this org")


@router.route(
    "POST",
    "/v1/linked-accounts",
    summary="Create a linked account (201), or update it when the id exists (200)",
    body=LinkedAccountCreate,
    response=LinkedAccountSaved,
    status=201,
    also={200: "the account existed and was updated"},
)
async def save_linked_account(call: Call, body: LinkedAccountCreate) -> Reply:
    res = call.resources
    account, created = await accounts.save_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=body.linked_account_id,
        fields=body.model_dump(exclude_unset=True, exclude={"linked_account_id"}),
    )
    return Reply(LinkedAccountSaved.of_saved(account, created=created), 201 if created else 200)


@router.route(
    "GET",
    "/v1/linked-accounts",
    summary="List linked accounts, ordered by id",
    query=LinkedAccountQuery,
    response=Page[LinkedAccountRead],
)
async def list_linked_accounts(call: Call, query: LinkedAccountQuery) -> Page[LinkedAccountRead]:
    items, next_cursor = await accounts.list_accounts(
        pool=call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
        org_id=query.org_id,
    )
    return Page[LinkedAccountRead](
        data=[LinkedAccountRead.of(a) for a in items], next_cursor=next_cursor
    )


@router.route(
    "GET",
    "/v1/linked-accounts/{linked_account_id}",
    summary="Get one linked account",
    response=LinkedAccountRead,
)
async def get_linked_account(call: Call) -> LinkedAccountRead:
    account = await accounts.get_account(
        pool=call.resources.pool,
        tenant=call.tenant,
        linked_account_id=call.path("linked_account_id"),
    )
    return LinkedAccountRead.of(account)


@router.route(
    "PATCH",
    "/v1/linked-accounts/{linked_account_id}",
    summary="Change a linked account's name, metadata or org",
    body=LinkedAccountUpdate,
    response=LinkedAccountRead,
)
async def update_linked_account(call: Call, body: LinkedAccountUpdate) -> LinkedAccountRead:
    res = call.resources
    account = await accounts.update_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=call.path("linked_account_id"),
        fields=body.model_dump(exclude_unset=True),
    )
    return LinkedAccountRead.of(account)


@router.route(
    "DELETE",
    "/v1/linked-accounts/{linked_account_id}",
    summary="Delete a linked account, its connections and every token issued for it",
    response=Deleted,
)
async def delete_linked_account(call: Call) -> Deleted:
    res = call.resources
    await accounts.delete_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=call.path("linked_account_id"),
    )
    return Deleted()
