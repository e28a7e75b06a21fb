"""The caller's settings: ``GET/PATCH /v1/settings``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Router
from shared.clients import service as client_settings
from shared.clients.schemas import ClientSettingsRead, ClientSettingsUpdate

router = Router("settings")


@router.route(
    "GET", "/v1/settings", summary="Get this environment's settings", response=ClientSettingsRead
)
async def get_settings(call: Call) -> ClientSettingsRead:
    res = call.resources
    settings = await client_settings.get_settings(
        pool=res.pool, caches=res.caches, tenant=call.tenant
    )
    return ClientSettingsRead.of(settings)


@router.route(
    "PATCH",
    "/v1/settings",
    summary="Change name, color, callback_url, allowed_redirect_urls or allowed_origins (CORS)",
    body=ClientSettingsUpdate,
    response=ClientSettingsRead,
)
async def update_settings(call: Call, body: ClientSettingsUpdate) -> ClientSettingsRead:
    res = call.resources
    settings = await client_settings.update_settings(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        changes=body.model_dump(exclude_unset=True),
    )
    return ClientSettingsRead.of(settings)
