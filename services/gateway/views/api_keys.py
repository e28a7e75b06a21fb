"""API keys of the caller's environment: ``/v1/api-keys``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.clients import api_keys
from shared.clients.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from shared.schemas import Page

router = Router("api keys")


@router.route(
    "POST",
    "/v1/api-keys",
    summary="Create an API key (its secret is shown once)",
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
)
async def create_api_key(call: Call, body: ApiKeyCreate) -> Reply:
    secret, key = await api_keys.create_api_key(
        pool=call.resources.pool, tenant=call.tenant, name=body.name
    )
    return Reply(ApiKeyCreated.of_created(key, secret=secret), 201)


@router.route(
    "GET", "/v1/api-keys", summary="List API keys and client secrets", response=Page[ApiKeyRead]
)
async def list_api_keys(call: Call) -> Page[ApiKeyRead]:
    keys = await api_keys.list_api_keys(pool=call.resources.pool, tenant=call.tenant)
    return Page[ApiKeyRead](data=[ApiKeyRead.of(k) for k in keys], next_cursor=None)


@router.route(
    "DELETE",
    "/v1/api-keys/{key_id}",
    summary="Revoke an API key or client secret (every gateway stops accepting it at once)",
    response=ApiKeyRead,
)
async def revoke_api_key(call: Call) -> ApiKeyRead:
    res = call.resources
    key = await api_keys.revoke_api_key(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        key_id=call.path_id("key_id", "api key"),
    )
    return ApiKeyRead.of(key)
