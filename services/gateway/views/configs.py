"""Configs: ``/v1/configs`` (server, or a frontend's session for its own account)."""

from __future__ import annotations

from services.gateway.endpoints import Access, Call, Reply, Router
from shared.configs import service as configs
from shared.configs.schemas import ConfigFind, ConfigRead, ConfigUpdate
from shared.errors import invalid, not_found
from shared.schemas import Deleted

router = Router("configs")


def _own_account(call: Call) -> str | None:
    return call.session.linked_account_id if call.session else None


@router.route(
    "POST",
    "/v1/configs",
    summary="Find the account's config for an app, or create it (201 when created)",
    access=Access.SERVER_OR_SESSION,
    body=ConfigFind,
    response=ConfigRead,
    status=201,
)
async def find_or_create_config(call: Call, body: ConfigFind) -> Reply:
    account = _own_account(call)
    if account is not None and body.linked_account_id not in (None, account):
        raise not_found("linked account", field="linked_account_id")
    account = account or body.linked_account_id
    if account is None:
        raise invalid("linked_account_id", "linked_account_id: required with server credentials")
    config, created = await configs.find_or_create(
        call.resources,
        tenant=call.tenant,
        linked_account_id=account,
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
        call.resources,
        tenant=call.tenant,
        config_uuid=call.path("config_id"),
        linked_account_id=_own_account(call),
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
        call.resources,
        tenant=call.tenant,
        config_uuid=call.path("config_id"),
        linked_account_id=_own_account(call),
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
        call.resources,
        tenant=call.tenant,
        config_uuid=call.path("config_id"),
        linked_account_id=_own_account(call),
    )
    return Deleted()
