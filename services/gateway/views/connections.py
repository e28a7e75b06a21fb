"""Connections: ``GET /v1/connections`` (server, or a frontend's session for its own account)
and ``POST /v1/connections`` (headless connect of a key-based app, server only)."""

from __future__ import annotations

from typing import Any

from services.gateway.endpoints import Access, Call, Reply, Router
from shared.connections import service, store
from shared.connections.schemas import ConnectionCreate, ConnectionQuery, ConnectionRead
from shared.connectors.sandbox import provider as sandbox
from shared.connectors.sandbox.schemas import SandboxFaultRead, SandboxFaultSet
from shared.errors import not_found
from shared.link import exchange as access_tokens
from shared.link.schemas import AccessTokenRotated
from shared.schemas import Deleted, Page
from shared.webhooks import service as webhooks

router = Router("connections")


@router.route(
    "GET",
    "/v1/connections",
    summary="List connections (an account may have several to one app); a session token sees "
    "only its own linked account's",
    access=Access.SERVER_OR_SESSION,
    query=ConnectionQuery,
    response=Page[ConnectionRead],
)
async def list_connections(call: Call, query: ConnectionQuery) -> Page[ConnectionRead]:
    items, next_cursor = await store.list_connections(
        call.resources.pool,
        tenant=call.tenant,
        limit=call.page_limit(query.limit),
        cursor=query.cursor,
        linked_account_id=call.account_scope(query.linked_account_id),
        app=query.app,
        status=query.status,
    )
    return Page[ConnectionRead](data=[ConnectionRead.of(c) for c in items], next_cursor=next_cursor)


@router.route(
    "POST",
    "/v1/connections",
    summary="Connect a linked account to an api_key or basic app with its fields, checked with "
    "the app first (headless: no hosted page); each call makes a new connection",
    body=ConnectionCreate,
    response=ConnectionRead,
    status=201,
)
async def create_connection(call: Call, body: ConnectionCreate) -> Reply:
    res = call.resources
    connection = await service.connect_headless(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        keyring=res.keyring,
        http=res.http,
        catalog=res.catalog,
        base_url=res.settings.base_url,
        tenant=call.tenant,
        body=body,
    )
    return Reply(ConnectionRead.of(connection), 201)


@router.route(
    "GET",
    "/v1/connections/{connection_id}",
    summary="One connection (a session token sees only its own account's)",
    access=Access.SERVER_OR_SESSION,
    response=ConnectionRead,
)
async def get_connection(call: Call) -> ConnectionRead:
    found = await store.get_connection(
        call.resources.pool,
        tenant=call.tenant,
        connection_id=call.path_id("connection_id", "connection"),
    )
    if found is None or not call.may_act_for(found.connection.linked_account_id):
        raise not_found("connection")
    return ConnectionRead.of(found.connection)


@router.route(
    "DELETE",
    "/v1/connections/{connection_id}",
    summary="Delete a connection: its credentials and access token go with it (its OAuth token is revoked at the provider)",
    access=Access.SERVER_OR_SESSION,
    response=Deleted,
)
async def delete_connection(call: Call) -> Deleted:
    deleted = await store.delete_connection(
        call.resources.pool,
        tenant=call.tenant,
        connection_id=call.path_id("connection_id", "connection"),
        linked_account_id=call.account_scope(),
    )
    if not deleted:
        raise not_found("connection")
    await webhooks.notify_connection_deleted(
        pool=call.resources.pool, redis=call.resources.redis, connection=deleted
    )
    return Deleted()


@router.route(
    "POST",
    "/v1/connections/{connection_id}/access-token/rotate",
    summary="Issue a new access token for the connection; the old one stops working",
    response=AccessTokenRotated,
)
async def rotate_access_token(call: Call) -> AccessTokenRotated:
    return await access_tokens.rotate_access_token(
        pool=call.resources.pool,
        tenant=call.tenant,
        connection_id=call.path_id("connection_id", "connection"),
    )


@router.route(
    "PUT",
    "/v1/connections/{connection_id}/sandbox/fault",
    summary="Sandbox connections only: make its API calls fail (expired token, revoked, 429, 500)",
    body=SandboxFaultSet,
    response=SandboxFaultRead,
)
async def set_sandbox_fault(call: Call, body: SandboxFaultSet) -> SandboxFaultRead:
    return await sandbox.set_connection_fault(
        pool=call.resources.pool,
        tenant=call.tenant,
        connection_id=call.path_id("connection_id", "connection"),
        fault=body.fault,
        count=body.count,
    )


class SandboxCalls(Page[dict[str, Any]]):
    """The sandbox API calls made with this connection's tokens, oldest first."""


@router.route(
    "GET",
    "/v1/connections/{connection_id}/sandbox/calls",
    summary="Sandbox connections only: the API calls made with its tokens",
    response=SandboxCalls,
)
async def list_sandbox_calls(call: Call) -> SandboxCalls:
    calls = await sandbox.connection_calls(
        pool=call.resources.pool,
        tenant=call.tenant,
        connection_id=call.path_id("connection_id", "connection"),
    )
    return SandboxCalls(data=calls, next_cursor=None)
