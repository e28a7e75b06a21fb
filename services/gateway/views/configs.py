"""Configs: ``/v1/configs`` (server, or a frontend's session for its own account)."""

from __future__ import annotations

from services.gateway.endpoints import Access, Call, Reply, Router
from shared.configs import service as configs
from shared.configs.schemas import ConfigFind, ConfigRead, ConfigUpdate
from shared.errors import not_found
from shared.schemas import Deleted

router = Router("configs")


@router.route(
    "POST",
    "/v1/configs",
    summary="Find the account's config for an app, or create it (201 when created)",
    access=Access.SERVER_OR_SESSION,
    body=ConfigFind,
    response=ConfigRead,
    status=201,
    also={200: "the config existed"},
)
async def find_or_create_config(call: Call, body: ConfigFind) -> Reply:
    if body.linked_account_id is not None and not call.may_act_for(body.linked_account_id):
        raise not_found("linked account", field="linked_account_id")
    res = call.resources
    config, created = await configs.find_or_create(
        pool=res.pool,
        caches=res.caches,
        catalog=res.catalog,
        tenant=call.tenant,
        linked_account_id=call.acting_account(body.linked_account_id),
        app=body.app,
        config_id=body.config_id,
    )
    return Reply(config, 201 if created else 200)


@router.route(
    "GET",
    "/v1/configs/{config_id}",
    summary="One config, with its app's workflows and fields",
    access=Access.SERVER_OR_SESSION,
    response=ConfigRead,
)
async def get_config(call: Call) -> ConfigRead:
    return await configs.get(
        pool=call.resources.pool,
        tenant=call.tenant,
        config_uuid=call.path_id("config_id", "config"),
        linked_account_id=call.account_scope(),
    )


@router.route(
    "PUT",
    "/v1/configs/{config_id}",
    summary="Save field values and the workflows to run (checked against the workflows' fields)",
    access=Access.SERVER_OR_SESSION,
    body=ConfigUpdate,
    response=ConfigRead,
)
async def update_config(call: Call, body: ConfigUpdate) -> ConfigRead:
    return await configs.update(
        pool=call.resources.pool,
        tenant=call.tenant,
        config_uuid=call.path_id("config_id", "config"),
        linked_account_id=call.account_scope(),
        body=body,
    )


@router.route(
    "DELETE",
    "/v1/configs/{config_id}",
    summary="Delete a config",
    access=Access.SERVER_OR_SESSION,
    response=Deleted,
)
async def delete_config(call: Call) -> Deleted:
    await configs.delete(
        pool=call.resources.pool,
        tenant=call.tenant,
        config_uuid=call.path_id("config_id", "config"),
        linked_account_id=call.account_scope(),
    )
    return Deleted()
