"""API keys of the caller's environment: ``/v1/api-keys``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.clients import api_keys, store
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
    created = await api_keys.create_api_key(call.resources, tenant=call.tenant, name=body.name)
    return Reply(created, 201)


@router.route(
    "GET", "/v1/api-keys", summary="List API keys and client secrets", response=Page[ApiKeyRead]
)
async def list_api_keys(call: Call) -> Page[ApiKeyRead]:
    keys = await store.list_api_keys(call.resources.pool, tenant=call.tenant)
    return Page[ApiKeyRead](data=keys, next_cursor=None)


@router.route(
    "DELETE",
    "/v1/api-keys/{key_id}",
    summary="Revoke an API key or client secret (every gateway stops accepting it at once)",
    response=ApiKeyRead,
)
async def revoke_api_key(call: Call) -> ApiKeyRead:
    key_id = call.path_id("key_id", "api key")
    return await api_keys.revoke_api_key(call.resources, tenant=call.tenant, key_id=key_id)
