"""Apps: ``GET /v1/apps`` (server or session), ``GET /v1/catalog``, ``PUT /v1/apps/{slug}``."""

from __future__ import annotations

from services.gateway.endpoints import Access, Call, Router
from shared.apps import service as apps
from shared.apps.schemas import AppRead, AppUpdate
from shared.schemas import Page

router = Router("apps")


@router.route(
    "GET",
    "/v1/apps",
    summary="Enabled apps; with a session token, also that account's connections to each",
    access=Access.SERVER_OR_SESSION,
    response=Page[AppRead],
)
async def list_apps(call: Call) -> Page[AppRead]:
    items = await apps.list_apps(
        pool=call.resources.pool,
        catalog=call.resources.catalog,
        settings=call.resources.settings,
        tenant=call.tenant,
        linked_account_id=call.account_scope(),
        include_disabled=False,
    )
    return Page[AppRead](data=items, next_cursor=None)


@router.route(
    "GET",
    "/v1/catalog",
    summary="Every app Linkport can connect, enabled or not",
    response=Page[AppRead],
)
async def list_catalog(call: Call) -> Page[AppRead]:
    items = await apps.list_apps(
        pool=call.resources.pool,
        catalog=call.resources.catalog,
        settings=call.resources.settings,
        tenant=call.tenant,
        linked_account_id=None,
        include_disabled=True,
    )
    return Page[AppRead](data=items, next_cursor=None)


@router.route(
    "PUT",
    "/v1/apps/{slug}",
    summary="Enable or disable an app, or set your own OAuth client id/secret for it",
    body=AppUpdate,
    response=AppRead,
)
async def configure_app(call: Call, body: AppUpdate) -> AppRead:
    res = call.resources
    return await apps.configure_app(
        pool=res.pool,
        keyring=res.keyring,
        catalog=res.catalog,
        settings=res.settings,
        tenant=call.tenant,
        slug=call.path("slug"),
        update=body,
    )
