"""The paths gocobalt's frontend SDK, cobalt-js (``@cobaltio/cobalt-js``), calls.

cobalt-js sends only ``Authorization: Bearer <session token>`` (from
``POST /api/v2/public/session-token``), from the product's page in the browser: these routes
take a session token (CORS: the tenant's allowed origins, see ``services/gateway/cors.py``)
and act for its linked account. Each one is the backend face's operation under the SDK's
path; answers are the shapes its types declare.

``connect(slug)`` on an OAuth2 app: ``GET /api/v1/{slug}/integrate`` gives ``auth_url``
(Linkport's hosted page, opening that app), the SDK opens it in a popup and polls
``GET /api/v2/f-sdk/application/{slug}`` every 3 s until ``connected`` (8.x) or an active
``connected_accounts`` entry (8.9.2+) shows, then closes the popup.
"""

from __future__ import annotations

from services.gateway.endpoints import Access, Call, Router
from services.gateway.faces import gocobalt
from services.gateway.faces import gocobalt_shapes as shapes
from shared.accounts import service as accounts
from shared.clients import service as client_settings

router = Router("cobalt-js", errors=shapes.ERRORS)

_SESSION = Access.SERVER_OR_SESSION


@router.route(
    "GET",
    "/api/v3/org/basics",
    summary="cobalt-js getAccountDetails(): the org and the session's linked account",
    access=_SESSION,
    response=shapes.OrgBasics,
)
async def sdk_org_basics(call: Call) -> shapes.OrgBasics:
    res = call.resources
    account = shapes.acting_account(call)
    settings = await client_settings.get_settings(
        pool=res.pool, caches=res.caches, tenant=call.tenant
    )
    found = await accounts.get_account(pool=res.pool, tenant=call.tenant, linked_account_id=account)
    return shapes.OrgBasics(
        id=str(call.tenant.client_id),
        name=settings.name,
        environment=shapes.environment(call.tenant),
        color=settings.color,
        linked_account_id=account,
        linked_account_name=found.name,
    )


@router.route(
    "GET",
    "/api/v2/f-sdk/application",
    summary="cobalt-js getApp() / getApps(): every app, with the account's connection",
    access=_SESSION,
    response=shapes.Applications,
)
async def sdk_list_applications(call: Call) -> shapes.Applications:
    return await gocobalt.list_applications(call, shapes.acting_account(call))


@router.route(
    "GET",
    "/api/v2/f-sdk/application/{slug}",
    summary="cobalt-js getApp(slug): one app, with the account's connection (connect() polls it)",
    access=_SESSION,
    response=shapes.Application,
)
async def sdk_get_application(call: Call) -> shapes.Application:
    return await gocobalt.get_application(call, shapes.acting_account(call), call.path("slug"))


@router.route(
    "GET",
    "/api/v1/{slug}/integrate",
    summary="cobalt-js connect(slug), OAuth2 apps: the URL its popup opens",
    access=_SESSION,
    response=shapes.AuthUrl,
)
async def sdk_integrate(call: Call) -> shapes.AuthUrl:
    return await gocobalt.authorization_url(call, shapes.acting_account(call), call.path("slug"))


@router.route(
    "POST",
    "/api/v2/app/{slug}/save",
    summary="cobalt-js connect(slug, fields), key-based apps: connect with the fields",
    access=_SESSION,
    body=shapes.KeyCredentials,
    response=shapes.Success,
)
async def sdk_save_key_credentials(call: Call, body: shapes.KeyCredentials) -> shapes.Success:
    return await gocobalt.save_key_credentials(
        call, shapes.acting_account(call), call.path("slug"), body.values()
    )


@router.route(
    "DELETE",
    "/api/v1/linked-acc/integration/{slug}",
    summary="cobalt-js disconnect(slug): delete the account's connection to the app",
    access=_SESSION,
    response=shapes.LinkedAccountItem,
)
async def sdk_disconnect(call: Call) -> shapes.LinkedAccountItem:
    return await gocobalt.remove_integration(call, shapes.acting_account(call), call.path("slug"))


@router.route(
    "POST",
    "/api/v2/f-sdk/config",
    summary="cobalt-js config(): find the account's config for an app, or create it",
    access=_SESSION,
    body=shapes.ConfigFind,
    response=shapes.Config,
)
async def sdk_config(call: Call, body: shapes.ConfigFind) -> shapes.Config:
    return await gocobalt.find_or_create_config(call, body)


@router.route(
    "PUT",
    "/api/v2/f-sdk/config",
    summary="cobalt-js updateConfig(): save field values and which workflows run",
    access=_SESSION,
    body=shapes.ConfigUpdate,
    response=shapes.Config,
)
async def sdk_update_config(call: Call, body: shapes.ConfigUpdate) -> shapes.Config:
    return await gocobalt.update_config(call, body)


@router.route(
    "GET",
    "/api/v2/f-sdk/slug/{slug}/config",
    summary="cobalt-js getConfig(slug, configId)",
    access=_SESSION,
    response=shapes.Config,
    aliases=("/api/v2/f-sdk/slug/{slug}/config/{config_id}",),
)
async def sdk_get_config(call: Call) -> shapes.Config:
    return await gocobalt.get_config(call)


@router.route(
    "DELETE",
    "/api/v2/f-sdk/slug/{slug}/config",
    summary="cobalt-js deleteConfig(slug, configId)",
    access=_SESSION,
    response=shapes.Message,
    aliases=("/api/v2/f-sdk/slug/{slug}/config/{config_id}",),
)
async def sdk_delete_config(call: Call) -> shapes.Message:
    return await gocobalt.delete_config(call)
