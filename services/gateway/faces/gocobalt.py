"""The gocobalt face: its public backend API under ``/api/v2/public/…``.

Auth as gocobalt's clients send it: ``x-api-key`` (a Linkport API key) with a
``linked_account_id`` header (or query) where the call is about one account, or
``Authorization: Bearer <session token>`` (then the token's account, whatever the call
names). Errors in gocobalt's shape (``shapes.CobaltError``). Every route converts and calls
the same domain functions as the native ``/v1`` views.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.gateway.endpoints import Access, Call, Router, validation_error
from services.gateway.faces import gocobalt_shapes as shapes
from shared.accounts import service as accounts
from shared.apps import service as apps
from shared.configs import service as configs
from shared.configs.schemas import ConfigUpdate as LinkportConfigUpdate
from shared.connections import service as connection_service
from shared.connections import store as connection_store
from shared.connections.models import Connection, newest_per_app
from shared.connectors.catalog import App
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.events import service as events
from shared.events.schemas import EventCreate, EventName
from shared.executions import service as executions
from shared.executions import store as execution_store
from shared.link import service as link_tokens
from shared.schemas import Color
from shared.sessions import service as session_tokens
from shared.webhooks import service as webhooks
from shared.webhooks import store as webhook_store
from shared.webhooks.models import Endpoint, EndpointFormat
from shared.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate

router = Router("gocobalt", errors=shapes.ERRORS)

PREFIX = "/api/v2/public"
_COLOR = TypeAdapter(Color)
_EVENT_NAME = TypeAdapter(EventName)
_NativeT = TypeVar("_NativeT", bound=BaseModel)


# --- operations both gocobalt faces use (this backend API and cobalt-js's paths) ------------


async def _connections(call: Call, account: str) -> dict[str, Connection]:
    """The account's connection to each app (gocobalt knows one per app: the newest active)."""
    found = await connection_store.list_for_accounts(
        call.resources.pool, tenant=call.tenant, linked_account_ids=[account]
    )
    return {app: c.connection for (_, app), c in newest_per_app(found).items()}


async def _enabled_app(call: Call, slug: str) -> App:
    """An app the tenant offers; 404 in gocobalt's words otherwise."""
    res = call.resources
    for app in await apps.enabled_apps(pool=res.pool, catalog=res.catalog, tenant=call.tenant):
        if app.slug == slug:
            return app
    raise ApiError(ErrorCode.NOT_FOUND, f"Application with slug {slug} not found", field="slug")


async def list_applications(call: Call, account: str) -> shapes.Applications:
    """Every app the tenant offers, with ``account``'s connection to each (filters:
    ``slug``, ``tags``, ``auth_type`` in the query)."""
    res = call.resources
    await accounts.require_account(
        pool=res.pool, caches=res.caches, tenant=call.tenant, linked_account_id=account
    )
    offered = await apps.enabled_apps(pool=res.pool, catalog=res.catalog, tenant=call.tenant)
    connected = await _connections(call, account)
    query = call.request.query
    items = [shapes.application(call, app, connected.get(app.slug)) for app in offered]
    if "slug" in query:
        items = [i for i in items if i.slug == query["slug"]]
    if "auth_type" in query:
        items = [i for i in items if i.auth_type == query["auth_type"]]
    if "tags" in query:
        wanted = {t.strip().casefold() for t in query["tags"].split(",") if t.strip()}
        items = [i for i in items if wanted & {t.casefold() for t in i.tags}]
    return shapes.Applications(items)


async def get_application(call: Call, account: str, slug: str) -> shapes.Application:
    """One app the tenant offers, with ``account``'s connection to it."""
    res = call.resources
    await accounts.require_account(
        pool=res.pool, caches=res.caches, tenant=call.tenant, linked_account_id=account
    )
    app = await _enabled_app(call, slug)
    return shapes.application(call, app, (await _connections(call, account)).get(slug))


async def authorization_url(call: Call, account: str, slug: str) -> shapes.AuthUrl:
    """Where the user connects ``slug``: Linkport's hosted page (single use), opening that app."""
    res = call.resources
    await _enabled_app(call, slug)
    issued = await link_tokens.issue_connect_link_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=res.settings.link_token_ttl,
        tenant=call.tenant,
        linked_account_id=account,
        color=None,
        display_name=None,
        provider=slug,
    )
    # ``app`` asks the hosted page to go straight on to that app (where the page supports it;
    # the token's ``provider`` opens the app in any case).
    return shapes.AuthUrl(auth_url=shapes.absolute(call, f"/link?token={issued.token}&app={slug}"))


async def save_key_credentials(
    call: Call, account: str, slug: str, values: dict[str, Any]
) -> shapes.Success:
    """Connect a key-based app with the fields its ``auth_input_map`` lists (saving again
    replaces the credentials of the connection gocobalt shows)."""
    res = call.resources
    app = await _enabled_app(call, slug)
    current = (await _connections(call, account)).get(slug)
    await connection_service.connect_with_credentials(
        pool=res.pool,
        redis=res.redis,
        keyring=res.keyring,
        http=res.http,
        base_url=res.settings.base_url,
        tenant=call.tenant,
        linked_account_id=account,
        app=app,
        values={k: str(v) for k, v in values.items() if v is not None},
        update_connection_id=None if current is None else current.id,
    )
    return shapes.Success()


async def linked_account(call: Call, account: str) -> shapes.LinkedAccountItem:
    """The account with its integrations (its connections)."""
    res = call.resources
    found = await accounts.get_account(pool=res.pool, tenant=call.tenant, linked_account_id=account)
    integrations = [
        shapes.integration(call, res.catalog.get(c.app), c)
        for c in (await _connections(call, account)).values()
    ]
    return shapes.LinkedAccountItem.of(call, found, integrations)


async def remove_integration(call: Call, account: str, slug: str) -> shapes.LinkedAccountItem:
    """Delete the account's connections to ``slug`` (credentials and access tokens with them;
    ``connection.deleted`` announced for each)."""
    gone = await connection_service.disconnect_app(
        pool=call.resources.pool,
        redis=call.resources.redis,
        tenant=call.tenant,
        linked_account_id=account,
        app=slug,
    )
    if not gone:
        raise not_found(f"integration {slug} of this linked account", field="slug")
    return await linked_account(call, account)


async def find_or_create_config(call: Call, body: shapes.ConfigFind) -> shapes.Config:
    """The account's config for the app (``config_id`` default "default"), created when new."""
    res = call.resources
    config, _ = await configs.find_or_create(
        pool=res.pool,
        caches=res.caches,
        catalog=res.catalog,
        tenant=call.tenant,
        linked_account_id=shapes.acting_account(call),
        app=body.slug,
        config_id=body.config_id,
    )
    return shapes.Config.of(config)


async def update_config(call: Call, body: shapes.ConfigUpdate) -> shapes.Config:
    """Merge field values into the config and enable or disable the workflows named."""
    res = call.resources
    current, _ = await configs.find_or_create(
        pool=res.pool,
        caches=res.caches,
        catalog=res.catalog,
        tenant=call.tenant,
        linked_account_id=shapes.acting_account(call),
        app=body.slug,
        config_id=body.config_id,
    )
    values = {**current.fields, **shapes.field_values(body.fields, "fields")}
    enabled = set(current.enabled_workflows)
    for i, workflow in enumerate(body.workflows or []):
        values.update(shapes.field_values(workflow.fields, f"workflows.{i}.fields"))
        if workflow.enabled is True:
            enabled.add(workflow.id)
        elif workflow.enabled is False:
            enabled.discard(workflow.id)
    updated = await configs.update(
        pool=res.pool,
        tenant=call.tenant,
        config_uuid=uuid.UUID(current.id),
        linked_account_id=call.account_scope(),
        body=LinkportConfigUpdate(fields=values, enabled_workflows=sorted(enabled)),
    )
    return shapes.Config.of(updated)


async def get_config(call: Call) -> shapes.Config:
    """The account's config for ``{slug}`` (``{config_id}`` default "default"); 404 when none."""
    config = await configs.find(
        pool=call.resources.pool,
        tenant=call.tenant,
        linked_account_id=shapes.acting_account(call),
        app=call.path("slug"),
        config_id=call.request.match_info.get("config_id"),
    )
    return shapes.Config.of(config)


async def delete_config(call: Call) -> shapes.Message:
    """Delete the account's config for ``{slug}`` (``{config_id}`` default "default")."""
    res = call.resources
    config = await configs.find(
        pool=res.pool,
        tenant=call.tenant,
        linked_account_id=shapes.acting_account(call),
        app=call.path("slug"),
        config_id=call.request.match_info.get("config_id"),
    )
    await configs.delete(
        pool=res.pool,
        tenant=call.tenant,
        config_uuid=uuid.UUID(config.id),
        linked_account_id=call.account_scope(),
    )
    return shapes.Message(message="Installation Deleted Success")


# --- linked accounts ------------------------------------------------------------------------


@router.route(
    "POST",
    f"{PREFIX}/linked-account",
    summary="Create a linked account (an existing id is updated)",
    body=shapes.LinkedAccountCreate,
    response=shapes.LinkedAccountItem,
)
async def cobalt_create_linked_account(
    call: Call, body: shapes.LinkedAccountCreate
) -> shapes.LinkedAccountItem:
    res = call.resources
    saved, _ = await accounts.save_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=body.account(),
        fields=body.linkport_fields(),
    )
    return shapes.LinkedAccountItem.of(call, saved)


@router.route(
    "PUT",
    f"{PREFIX}/linked-account",
    summary="Create or update a linked account (a session token: its own account)",
    access=Access.SERVER_OR_SESSION,
    body=shapes.LinkedAccountUpsert,
    response=shapes.LinkedAccountItem,
)
async def cobalt_upsert_linked_account(
    call: Call, body: shapes.LinkedAccountUpsert
) -> shapes.LinkedAccountItem:
    res = call.resources
    account = call.account_scope() or body.account()
    saved, _ = await accounts.save_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=account,
        fields=body.fields().linkport_fields(),
    )
    return shapes.LinkedAccountItem.of(call, saved)


@router.route(
    "GET",
    f"{PREFIX}/linked-account",
    summary="List linked accounts, by page (ordered by id)",
    query=shapes.PageQuery,
    response=shapes.CobaltPage[shapes.LinkedAccountItem],
)
async def cobalt_list_linked_accounts(
    call: Call, query: shapes.PageQuery
) -> shapes.CobaltPage[shapes.LinkedAccountItem]:
    limit = call.page_limit(query.limit or 10)
    found, total = await accounts.numbered_page(
        pool=call.resources.pool, tenant=call.tenant, page=query.page, limit=limit
    )
    return shapes.CobaltPage[shapes.LinkedAccountItem].of(
        [shapes.LinkedAccountItem.of(call, a) for a in found],
        total=total,
        page=query.page,
        limit=limit,
    )


@router.route(
    "GET",
    f"{PREFIX}/linked-account/{{linked_account_id}}",
    summary="One linked account with its integrations (a session token: only its own)",
    access=Access.SERVER_OR_SESSION,
    response=shapes.LinkedAccountItem,
)
async def cobalt_get_linked_account(call: Call) -> shapes.LinkedAccountItem:
    account = call.path("linked_account_id")
    if not call.may_act_for(account):
        raise not_found("linked account")
    return await linked_account(call, account)


@router.route(
    "GET",
    f"{PREFIX}/session/active-linked-account",
    summary="The session token's linked account, with its integrations",
    access=Access.SERVER_OR_SESSION,
    response=shapes.LinkedAccountItem,
)
async def cobalt_active_linked_account(call: Call) -> shapes.LinkedAccountItem:
    return await linked_account(call, shapes.acting_account(call))


@router.route(
    "DELETE",
    f"{PREFIX}/linked-account/{{linked_account_id}}",
    summary="Delete a linked account, its connections and every token issued for it",
    response=shapes.Message,
)
async def cobalt_delete_linked_account(call: Call) -> shapes.Message:
    res = call.resources
    await accounts.delete_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=call.path("linked_account_id"),
    )
    return shapes.Message(message="User deleted successfully")


@router.route(
    "DELETE",
    f"{PREFIX}/linked-account/integration/{{slug}}",
    summary="Delete the account's connection to an app; answers the account",
    access=Access.SERVER_OR_SESSION,
    response=shapes.LinkedAccountItem,
)
async def cobalt_delete_integration(call: Call) -> shapes.LinkedAccountItem:
    return await remove_integration(call, shapes.acting_account(call), call.path("slug"))


# --- session tokens and connecting --------------------------------------------------------


@router.route(
    "POST",
    f"{PREFIX}/session-token",
    summary="A session token for one linked account (for cobalt-js and your frontend)",
    body=shapes.SessionTokenCreate,
    response=shapes.SessionToken,
)
async def cobalt_create_session_token(
    call: Call, body: shapes.SessionTokenCreate
) -> shapes.SessionToken:
    res = call.resources
    ttl = res.settings.session_token_ttl
    issued = await session_tokens.issue_session_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=ttl,
        tenant=call.tenant,
        linked_account_id=body.linked_account_id,
    )
    return shapes.SessionToken(token=issued.token, expires_in=ttl, expires_at=issued.expires_at)


@router.route(
    "GET",
    f"{PREFIX}/application",
    summary="Apps you offer, with the linked account's connection to each",
    access=Access.SERVER_OR_SESSION,
    response=shapes.Applications,
)
async def cobalt_list_applications(call: Call) -> shapes.Applications:
    return await list_applications(call, shapes.acting_account(call))


@router.route(
    "GET",
    f"{PREFIX}/application/{{slug}}",
    summary="One app, with the linked account's connection to it",
    access=Access.SERVER_OR_SESSION,
    response=shapes.Application,
)
async def cobalt_get_application(call: Call) -> shapes.Application:
    return await get_application(call, shapes.acting_account(call), call.path("slug"))


@router.route(
    "POST",
    f"{PREFIX}/connect-url",
    summary="A single-use hosted URL where the linked account connects apps",
    access=Access.SERVER_OR_SESSION,
    body=shapes.ConnectUrlCreate,
    response=shapes.HostedUrl,
)
async def cobalt_connect_url(call: Call, body: shapes.ConnectUrlCreate) -> shapes.HostedUrl:
    res = call.resources
    color = None
    for given in (body.color, body.base_color, body.button_color, body.bgColor):
        if given is not None:
            try:
                color = _COLOR.validate_python(given)
                break
            except ValidationError:
                continue
    issued = await link_tokens.issue_connect_link_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        ttl=res.settings.link_token_ttl,
        tenant=call.tenant,
        linked_account_id=shapes.acting_account(call),
        color=color,
        display_name=(body.name or "").strip() or None,
    )
    return shapes.HostedUrl(hosted_url=shapes.absolute(call, f"/link?token={issued.token}"))


@router.route(
    "GET",
    f"{PREFIX}/linked-account/integration/oauth-url/{{slug}}",
    summary="Where the linked account authorises an app (Linkport's hosted page for it)",
    access=Access.SERVER_OR_SESSION,
    response=shapes.AuthUrl,
)
async def cobalt_oauth_url(call: Call) -> shapes.AuthUrl:
    return await authorization_url(call, shapes.acting_account(call), call.path("slug"))


@router.route(
    "PUT",
    f"{PREFIX}/linked-account/integration/save-key-credentials/{{slug}}",
    summary="Connect a key-based app with its fields (auth_input_map)",
    access=Access.SERVER_OR_SESSION,
    body=shapes.KeyCredentials,
    response=shapes.Success,
)
async def cobalt_save_key_credentials(call: Call, body: shapes.KeyCredentials) -> shapes.Success:
    return await save_key_credentials(
        call, shapes.acting_account(call), call.path("slug"), body.values()
    )


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, f"{field}: must be a JSON object")
    return value


# --- configs --------------------------------------------------------------------------------


@router.route(
    "POST",
    f"{PREFIX}/config",
    summary="Find the linked account's config for an app, or create it",
    access=Access.SERVER_OR_SESSION,
    body=shapes.ConfigFind,
    response=shapes.Config,
)
async def cobalt_find_or_create_config(call: Call, body: shapes.ConfigFind) -> shapes.Config:
    return await find_or_create_config(call, body)


@router.route(
    "PUT",
    f"{PREFIX}/config",
    summary="Save field values and which workflows run",
    access=Access.SERVER_OR_SESSION,
    body=shapes.ConfigUpdate,
    response=shapes.Config,
)
async def cobalt_update_config(call: Call, body: shapes.ConfigUpdate) -> shapes.Config:
    return await update_config(call, body)


@router.route(
    "GET",
    f"{PREFIX}/slug/{{slug}}/config",
    summary='The linked account\'s config for an app (config id: default "default")',
    access=Access.SERVER_OR_SESSION,
    response=shapes.Config,
    aliases=(f"{PREFIX}/slug/{{slug}}/config/{{config_id}}",),
)
async def cobalt_get_config(call: Call) -> shapes.Config:
    return await get_config(call)


@router.route(
    "DELETE",
    f"{PREFIX}/slug/{{slug}}/config",
    summary="Delete the linked account's config for an app",
    access=Access.SERVER_OR_SESSION,
    response=shapes.Message,
    aliases=(f"{PREFIX}/slug/{{slug}}/config/{{config_id}}",),
)
async def cobalt_delete_config(call: Call) -> shapes.Message:
    return await delete_config(call)


# --- events ---------------------------------------------------------------------------------


async def _fire(call: Call, body: shapes.EventSend, slug: str | None) -> shapes.EventFired:
    res = call.resources
    field, name = ("event", body.event) if body.event is not None else ("trigger", body.trigger)
    if name is None:
        raise invalid("event", "event: required (or trigger)")
    try:
        _EVENT_NAME.validate_python(name)
    except ValidationError:
        raise invalid(
            field, f"{field}: 1 to 128 printable characters, no leading or trailing space"
        ) from None
    payload = body.payload
    if isinstance(payload, str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise invalid("payload", "payload: a JSON object, or a string holding one") from None
    if slug is not None and slug not in res.catalog:
        raise ApiError(ErrorCode.NOT_FOUND, f"Application with slug {slug} not found", field="slug")
    try:
        event = EventCreate.model_validate(
            {
                "event": name,
                "linked_account_id": shapes.acting_account(call),
                "payload": {} if payload is None else _object(payload, "payload"),
                "config_id": call.request.headers.get("config_id") or None,
            }
        )
    except ValidationError as exc:
        raise validation_error(exc) from None
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key", "Idempotency-Key: must be 1 to 255 characters")
    accepted, _ = await events.ingest(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        body=event,
        idempotency_key=key,
    )
    return shapes.EventFired(message="Webhook Fired Success", event_id=accepted.event_id)


@router.route(
    "POST",
    f"{PREFIX}/event",
    summary="Send an app event by name (linked_account_id and optional config_id headers)",
    access=Access.SERVER_OR_SESSION,
    body=shapes.EventSend,
    response=shapes.EventFired,
)
async def cobalt_send_event(call: Call, body: shapes.EventSend) -> shapes.EventFired:
    return await _fire(call, body, call.request.headers.get("slug"))


@router.route(
    "POST",
    f"{PREFIX}/event/trigger",
    summary="Send an app event (event or trigger; linked_account_id, config_id, slug headers)",
    access=Access.SERVER_OR_SESSION,
    body=shapes.EventSend,
    response=shapes.EventFired,
)
async def cobalt_trigger_event(call: Call, body: shapes.EventSend) -> shapes.EventFired:
    return await _fire(call, body, call.request.headers.get("slug"))


@router.route(
    "POST",
    f"{PREFIX}/event/{{slug}}",
    summary="Send an app event, naming an app (which must exist)",
    access=Access.SERVER_OR_SESSION,
    body=shapes.EventSend,
    response=shapes.EventFired,
)
async def cobalt_send_app_event(call: Call, body: shapes.EventSend) -> shapes.EventFired:
    return await _fire(call, body, call.path("slug"))


# --- executions -----------------------------------------------------------------------------


def _execution_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found("execution") from None


@router.route(
    "GET",
    f"{PREFIX}/execution",
    summary="Executions, newest first, by page (a session token: its own account's)",
    access=Access.SERVER_OR_SESSION,
    query=shapes.ExecutionQuery,
    response=shapes.CobaltPage[shapes.Execution],
    aliases=(f"{PREFIX}/executions",),
)
async def cobalt_list_executions(
    call: Call, query: shapes.ExecutionQuery
) -> shapes.CobaltPage[shapes.Execution]:
    res = call.resources
    limit = call.page_limit(query.limit or 10)
    try:
        workflow_id = uuid.UUID(query.workflow_id) if query.workflow_id else None
        execution_id = uuid.UUID(query.execution_id) if query.execution_id else None
    except ValueError:
        return shapes.CobaltPage[shapes.Execution].of([], total=0, page=query.page, limit=limit)
    found, total = await execution_store.numbered_page(
        res.pool,
        tenant=call.tenant,
        offset=(query.page - 1) * limit,
        limit=limit,
        statuses=shapes.statuses_named(query.status) if query.status else None,
        execution_id=execution_id,
        workflow_id=workflow_id,
        app=query.slug,
        linked_account_id=call.account_scope(shapes.named_account(call)),
        oldest_first=query.sortAsc,
    )
    return shapes.CobaltPage[shapes.Execution].of(
        [shapes.Execution.of(call, x, res.catalog.get(x.app or "")) for x in found],
        total=total,
        page=query.page,
        limit=limit,
    )


async def _one_execution(call: Call, execution_id: uuid.UUID) -> shapes.Execution:
    res = call.resources
    found, _ = await execution_store.numbered_page(
        res.pool,
        tenant=call.tenant,
        offset=0,
        limit=1,
        execution_id=execution_id,
        linked_account_id=call.account_scope(),
    )
    if not found:
        raise not_found("execution")
    steps = await execution_store.step_records(res.pool, execution_id=execution_id)
    return shapes.Execution.of(call, found[0], res.catalog.get(found[0].app or ""), steps)


@router.route(
    "GET",
    f"{PREFIX}/execution/{{execution_id}}",
    summary="One execution, with every step as a node",
    access=Access.SERVER_OR_SESSION,
    response=shapes.Execution,
)
async def cobalt_get_execution(call: Call) -> shapes.Execution:
    execution_id = _execution_uuid(call.path("execution_id"))
    assert execution_id is not None
    return await _one_execution(call, execution_id)


@router.route(
    "POST",
    f"{PREFIX}/execution/{{execution_id}}/rerun",
    summary="Run a failed execution again, from its failed step",
    access=Access.SERVER_OR_SESSION,
    response=shapes.Rerun,
)
async def cobalt_rerun_execution(call: Call) -> shapes.Rerun:
    execution_id = _execution_uuid(call.path("execution_id"))
    assert execution_id is not None
    await executions.replay(
        pool=call.resources.pool,
        redis=call.resources.redis,
        tenant=call.tenant,
        execution_id=execution_id,
        linked_account_id=call.account_scope(),
    )
    return shapes.Rerun(id=str(execution_id), instanceId=str(execution_id))


# --- webhooks -------------------------------------------------------------------------------
# Thin adapters over the native webhooks (the calls /v1/webhook-endpoints makes): endpoints made
# here have format gocobalt (gocobalt's bodies, x-cobalt-signature), and only those are shown.


def _webhook_id(call: Call) -> uuid.UUID:
    return call.path_id("id", "webhook")


async def _webhook(call: Call) -> Endpoint:
    """One of the tenant's gocobalt-format endpoints; 404 otherwise."""
    endpoint = await webhooks.require_endpoint(
        pool=call.resources.pool, tenant=call.tenant, endpoint_id=_webhook_id(call)
    )
    if endpoint.format is not EndpointFormat.GOCOBALT:
        raise not_found("webhook")
    return endpoint


async def _all_webhooks(call: Call) -> shapes.Webhooks:
    found: list[shapes.Webhook] = []
    cursor: str | None = None
    while True:
        page, cursor = await webhook_store.list_endpoints(
            call.resources.pool, tenant=call.tenant, limit=100, cursor=cursor
        )
        found += [shapes.Webhook.of(e) for e in page if e.format is EndpointFormat.GOCOBALT]
        if cursor is None:
            return shapes.Webhooks(found)


def _native(model: type[_NativeT], values: dict[str, Any]) -> _NativeT:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc) from None


@router.route(
    "GET",
    f"{PREFIX}/webhook",
    summary="Webhooks (endpoints of format gocobalt)",
    response=shapes.Webhooks,
)
async def cobalt_list_webhooks(call: Call) -> shapes.Webhooks:
    return await _all_webhooks(call)


@router.route(
    "POST",
    f"{PREFIX}/webhook",
    summary="Register a webhook: gocobalt's bodies signed in x-cobalt-signature (whsec_ secret)",
    body=shapes.WebhookCreate,
    response=shapes.Webhook,
)
async def cobalt_create_webhook(call: Call, body: shapes.WebhookCreate) -> shapes.Webhook:
    body.unsupported()
    values: dict[str, Any] = {
        "url": body.webhook_url,
        "event_types": shapes.event_types(body.webhook_events),
        "description": body.about(),
        "format": EndpointFormat.GOCOBALT,
    }
    if body.is_enabled is not None:
        values["enabled"] = body.is_enabled
    res = call.resources
    endpoint, _ = await webhooks.create_endpoint(
        pool=res.pool,
        keyring=res.keyring,
        http=res.http,
        tenant=call.tenant,
        request=_native(WebhookEndpointCreate, values),
    )
    return shapes.Webhook.of(endpoint)


@router.route(
    "GET",
    f"{PREFIX}/webhook/{{id}}",
    summary="A webhook",
    response=shapes.Webhook,
)
async def cobalt_get_webhook(call: Call) -> shapes.Webhook:
    return shapes.Webhook.of(await _webhook(call))


@router.route(
    "PUT",
    f"{PREFIX}/webhook/{{id}}",
    summary="Update a webhook (only the fields sent change)",
    body=shapes.WebhookFields,
    response=shapes.Webhook,
)
async def cobalt_update_webhook(call: Call, body: shapes.WebhookFields) -> shapes.Webhook:
    body.unsupported()
    endpoint = await _webhook(call)
    values: dict[str, Any] = {}
    if body.webhook_url is not None:
        values["url"] = body.webhook_url
    if body.webhook_events is not None:
        values["event_types"] = shapes.event_types(body.webhook_events)
    if body.about() is not None:
        values["description"] = body.about()
    if body.is_enabled is not None:
        values["enabled"] = body.is_enabled
    res = call.resources
    updated = await webhooks.update_endpoint(
        pool=res.pool,
        http=res.http,
        tenant=call.tenant,
        endpoint_id=endpoint.id,
        request=_native(WebhookEndpointUpdate, values),
    )
    return shapes.Webhook.of(updated)


@router.route(
    "DELETE",
    f"{PREFIX}/webhook/{{id}}",
    summary="Delete a webhook (and its deliveries); answers the webhooks that remain",
    response=shapes.Webhooks,
)
async def cobalt_delete_webhook(call: Call) -> shapes.Webhooks:
    endpoint = await _webhook(call)
    if not await webhook_store.delete_endpoint(
        call.resources.pool, tenant=call.tenant, endpoint_id=endpoint.id
    ):
        raise not_found("webhook")
    return await _all_webhooks(call)
