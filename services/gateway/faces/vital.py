"""The Vital face: Vital's Link, User and Providers API (``/v2/…``), as its official SDK
(``vital`` on PyPI, ``Vital(api_key=…, base_url=…)``) calls it, over Linkport's own domain.

A Vital *user* is a linked account: ``client_user_id`` is the account's id, ``user_id`` its
UUID (``shared.accounts.models.account_uuid``); a *provider* is a catalog app; a connected
source is a connection. Link tokens, the hosted flow, connections and accounts are the same
functions the native API uses; this module only converts.

Auth: an API key in ``x-vital-api-key`` (or any Linkport server credential) on the API-key
routes; the link token in ``x-vital-link-token`` on the routes Vital's Link widget calls.
Errors answer Vital's ``{"detail": …}`` (a 422's detail is a list of ``{loc, msg, type}``);
a duplicate user is a 400, never a 409 (the SDK retries 409s). Every other method of the SDK's
``link``, ``user`` and ``providers`` clients is declared too and answers a 400 naming what
Linkport does not offer; any other ``/v2/…`` path answers a JSON 404 saying the same.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from services.gateway.endpoints import Access, Call, ErrorShape, Reply, Router
from services.gateway.faces.vital_schemas import (
    VitalConnectedProviders,
    VitalConnectedSource,
    VitalConnectionErrorDetails,
    VitalErrorBody,
    VitalFallbackBirthDate,
    VitalFallbackTimeZone,
    VitalLinkTokenCreate,
    VitalLinkTokenCreated,
    VitalMetrics,
    VitalPasswordAuth,
    VitalPasswordConnect,
    VitalProvider,
    VitalProviderDetailed,
    VitalProviderLinkResult,
    VitalProviderList,
    VitalProvidersQuery,
    VitalProviderWithStatus,
    VitalSource,
    VitalSourceLink,
    VitalSourceLinkList,
    VitalStartConnect,
    VitalSuccess,
    VitalTokenCheck,
    VitalTokenState,
    VitalTokenValidity,
    VitalUser,
    VitalUserCreate,
    VitalUserPatch,
    VitalUsersPage,
    VitalUsersQuery,
)
from shared.accounts import service as accounts
from shared.accounts import store as account_store
from shared.accounts.models import LinkedAccount, account_uuid
from shared.config import Settings
from shared.connections import service as connection_service
from shared.connections import store as connection_store
from shared.connections.models import ConnectionStatus, StoredConnection, newest_per_app
from shared.connectors.catalog import App
from shared.errors import ApiError, ErrorCode
from shared.grants.models import LinkGrant
from shared.link import flow as link_flow
from shared.link import service as link_tokens
from shared.link.flow import FlowError
from shared.link.models import VITAL_ERROR_TYPES, FlowErrorCode
from shared.link.schemas import WearablesLinkTokenCreated
from shared.schemas import ResponseModel

LINK_TOKEN_HEADER = "x-vital-link-token"
_TOKEN_MINUTES = Settings.model_fields["wearables_link_token_ttl"].default // 60
NOT_OFFERED = "not_offered_by_linkport"


class VitalError(ApiError):
    """An error in Vital's words: its HTTP status and its ``detail`` (text or an object)."""

    def __init__(self, status: int, detail: str | dict[str, Any]) -> None:
        message = detail if isinstance(detail, str) else str(detail.get("error_message", detail))
        super().__init__(ErrorCode.VALIDATION_FAILED, message)
        self.http_status = status
        self.detail = detail

    @property
    def status(self) -> int:
        """The status Vital answers this with."""
        return self.http_status


def _not_offered(message: str) -> VitalError:
    return VitalError(400, {"error_type": NOT_OFFERED, "error_message": message})


def _user_not_found() -> VitalError:
    return VitalError(404, "User not found")


def _vital_detail(error: ApiError) -> tuple[int, Any]:
    """The status and ``detail`` Vital would answer for a Linkport error."""
    if isinstance(error, VitalError):
        return error.status, error.detail
    if error.code is ErrorCode.VALIDATION_FAILED or error.code is ErrorCode.INVALID_JSON:
        items = error.details or [
            {"field": error.field, "message": error.message, "type": error.code.value}
        ]
        detail = [
            {
                "loc": ["body", *(str(i["field"]).split(".") if i["field"] else [])],
                "msg": i["message"],
                "type": i["type"],
            }
            for i in items
        ]
        return 422, detail
    return error.status, error.message


def _render(error: ApiError, request_id: str) -> Reply:
    status, detail = _vital_detail(error)
    return Reply(VitalErrorBody(detail=detail), status)


class LinkTokenErrorBody(ResponseModel):
    """Errors of ``POST /v2/link/token``, which the wearables seed's clients call too: Linkport's
    ``success`` / ``error`` beside Vital's ``detail``."""

    success: bool = False
    error: dict[str, Any]
    detail: Any


def _render_both(error: ApiError, request_id: str) -> Reply:
    _, detail = _vital_detail(error)
    body = error.body()
    body["error"]["request_id"] = request_id
    return Reply(LinkTokenErrorBody(error=body["error"], detail=detail), error.status)


router = Router("vital", errors=ErrorShape(model=VitalErrorBody, render=_render))
# POST /v2/link/token is also the wearables seed's route: its errors carry both shapes.
token_router = Router("vital", errors=ErrorShape(model=LinkTokenErrorBody, render=_render_both))


# Conversions ---------------------------------------------------------------------------------


def _logo(call: Call, app: App | None, slug: str) -> str:
    base = call.resources.settings.base_url.rstrip("/")
    return f"{base}{app.logo_path if app else f'/static/logos/{slug}.svg'}"


def _provider(call: Call, slug: str) -> VitalProvider:
    app = call.resources.catalog.get(slug)
    return VitalProvider(name=app.name if app else slug, slug=slug, logo=_logo(call, app, slug))


def _auth_type(app: App) -> str:
    """Vital's auth type of an app: OAuth, a password form (API key, basic auth), or none."""
    if app.auth_kind == "oauth2":
        return "oauth"
    return "password" if app.auth_kind in ("api_key", "basic") else ""


def _source_id(slug: str) -> int:
    """Vital numbers its sources; an app's number is a checksum of its slug (stable)."""
    return zlib.crc32(slug.encode()) & 0x7FFFFFFF


def _user(call: Call, account: LinkedAccount, connections: list[StoredConnection]) -> VitalUser:
    profile = account.profile
    zone, born = profile.get("fallback_time_zone"), profile.get("fallback_birth_date")
    return VitalUser(
        user_id=str(account.account_uuid),
        team_id=str(call.tenant.client_id),
        client_user_id=account.linked_account_id,
        created_on=account.created_at,
        connected_sources=[
            VitalConnectedSource(
                provider=_provider(call, c.connection.app),
                source=_provider(call, c.connection.app),
                created_on=c.connection.created_at,
            )
            for c in connections
            if c.connection.linked_account_id == account.linked_account_id
        ],
        fallback_time_zone=None
        if zone is None
        else VitalFallbackTimeZone(
            id=zone["value"], source_slug="manual", updated_at=zone["updated_at"]
        ),
        fallback_birth_date=None
        if born is None
        else VitalFallbackBirthDate(
            value=born["value"], source_slug="manual", updated_at=born["updated_at"]
        ),
        ingestion_start=profile.get("ingestion_start"),
        ingestion_end=profile.get("ingestion_end"),
    )


def _profile(body: VitalUserCreate | VitalUserPatch) -> dict[str, Any]:
    """What the request sets in the account's profile (``null`` and absent set nothing)."""
    now = datetime.now(UTC).isoformat()
    changes: dict[str, Any] = {}
    if body.fallback_time_zone is not None:
        changes["fallback_time_zone"] = {"value": body.fallback_time_zone, "updated_at": now}
    if body.fallback_birth_date is not None:
        changes["fallback_birth_date"] = {"value": body.fallback_birth_date, "updated_at": now}
    if body.ingestion_start is not None:
        changes["ingestion_start"] = body.ingestion_start
    if body.ingestion_end is not None:
        changes["ingestion_end"] = body.ingestion_end
    return changes


async def _connections(call: Call, accounts_: list[LinkedAccount]) -> list[StoredConnection]:
    """The accounts' connections, oldest first: one per app (Vital knows one per provider),
    the newest active one."""
    found = await connection_store.list_for_accounts(
        call.resources.pool,
        tenant=call.tenant,
        linked_account_ids=[a.linked_account_id for a in accounts_],
    )
    chosen = {c.id for c in newest_per_app(found).values()}
    return [c for c in found if c.id in chosen]


async def _registered_user(call: Call, user_id: str) -> LinkedAccount | None:
    """The account whose UUID ``user_id`` is, or None (not a UUID, or no such account)."""
    try:
        uuid = UUID(user_id)
    except ValueError:
        return None
    return await accounts.find_by_uuid(pool=call.resources.pool, tenant=call.tenant, uuid=uuid)


async def _required_user(call: Call, user_id: str) -> LinkedAccount:
    account = await _registered_user(call, user_id)
    if account is None:
        raise _user_not_found()
    return account


def _link_web_url(call: Call, token: str, provider: str | None) -> str:
    """The hosted Link page for a token; with a provider it opens that app's sign-in directly."""
    query = {"token": token, **({"app": provider} if provider else {})}
    return f"{call.resources.settings.base_url.rstrip('/')}/link?{urlencode(query)}"


# Link tokens ---------------------------------------------------------------------------------


@token_router.route(
    "POST",
    "/v2/link/token",
    aliases=("/v2/link/token/",),
    summary=f"Create a link token (single use, {_TOKEN_MINUTES} min) for a user from POST /v2/user: "
    "{link_token, link_web_url}; the flow ends at redirect_url with state=success or "
    "state=error&error_type=…&error=…. A client-chosen user_id (the wearables seed's form) "
    "creates that linked account and answers {link_token}, ending with ?token=pt_…",
    body=VitalLinkTokenCreate,
    response=VitalLinkTokenCreated,
    vital_header=True,
)
async def vital_create_link_token(
    call: Call, body: VitalLinkTokenCreate
) -> VitalLinkTokenCreated | WearablesLinkTokenCreated:
    res = call.resources
    account = await _registered_user(call, body.user_id)
    if account is None:  # the seed's form: a client-chosen id, answered as the seed shows
        token = await link_tokens.issue_wearables_link_token(
            pool=res.pool,
            redis=res.redis,
            caches=res.caches,
            ttl=res.settings.wearables_link_token_ttl,
            tenant=call.tenant,
            request=body,
        )
        return WearablesLinkTokenCreated(link_token=token)
    issued = await link_tokens.issue_vital_link_token(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        catalog=res.catalog,
        ttl=res.settings.wearables_link_token_ttl,
        tenant=call.tenant,
        linked_account_id=account.linked_account_id,
        provider=body.provider,
        filter_on_providers=body.filter_on_providers,
        redirect_url=body.redirect_url,
    )
    return VitalLinkTokenCreated(
        link_token=issued.token, link_web_url=_link_web_url(call, issued.token, body.provider)
    )


@router.route(
    "POST",
    "/v2/link/token/isValid",
    summary="Whether a link token of this client can still be used: {valid}",
    body=VitalTokenCheck,
    response=VitalTokenValidity,
    vital_header=True,
)
async def vital_is_token_valid(call: Call, body: VitalTokenCheck) -> VitalTokenValidity:
    res = call.resources
    grant = await link_tokens.read_link_token(
        pool=res.pool, redis=res.redis, caches=res.caches, token=body.token
    )
    return VitalTokenValidity(valid=grant is not None and grant.tenant == call.tenant)


# Link-token routes (what Vital's Link widget calls) -------------------------------------------


def _header_token(call: Call) -> str:
    token = call.request.headers.get(LINK_TOKEN_HEADER, "").strip()
    if not token:
        raise VitalError(401, f"send the link token in the {LINK_TOKEN_HEADER} header")
    return token


async def _live_grant(call: Call, token: str) -> LinkGrant:
    res = call.resources
    grant = await link_tokens.read_link_token(
        pool=res.pool, redis=res.redis, caches=res.caches, token=token
    )
    if grant is None:
        raise VitalError(
            401,
            {
                "error_type": "invalid_token",
                "error_message": "the link token is unknown, expired or already used",
            },
        )
    return grant


async def _offered(call: Call, grant: LinkGrant) -> list[App]:
    return await link_flow.apps_for_grant(
        pool=call.resources.pool, catalog=call.resources.catalog, grant=grant
    )


async def _offered_app(call: Call, grant: LinkGrant, slug: str) -> App:
    app = next((a for a in await _offered(call, grant) if a.slug == slug), None)
    if app is None:
        raise VitalError(
            400,
            {
                "error_type": "provider_not_offered",
                "error_message": f"{slug!r} is not a provider this link token offers "
                "(GET /v2/link/providers lists them)",
            },
        )
    return app


def _source(call: Call, app: App, oauth_url: str | None) -> VitalSource:
    return VitalSource(
        id=_source_id(app.slug),
        name=app.name,
        slug=app.slug,
        description=app.description,
        logo=_logo(call, app, app.slug),
        oauth_url=oauth_url,
        auth_type=_auth_type(app),
    )


def _oauth_source(call: Call, token: str, app: App) -> VitalSource:
    """An OAuth app with the URL that starts its sign-in: the hosted page for this link token,
    going straight to the provider (the same flow as choosing the app on the page)."""
    if app.auth_kind != "oauth2":
        raise VitalError(
            400,
            {
                "error_type": "wrong_auth_type",
                "error_message": f"{app.name} does not sign in with OAuth: "
                f"POST /v2/link/provider/password/{app.slug}",
            },
        )
    return _source(call, app, _link_web_url(call, token, app.slug))


@router.route(
    "GET",
    "/v2/link/providers",
    summary="The providers a link token offers (x-vital-link-token)",
    access=Access.PUBLIC,
    response=VitalSourceLinkList,
)
async def vital_link_providers(call: Call) -> VitalSourceLinkList:
    grant = await _live_grant(call, _header_token(call))
    return VitalSourceLinkList(
        [
            VitalSourceLink(
                id=_source_id(app.slug),
                name=app.name,
                slug=app.slug,
                description=app.description,
                logo=_logo(call, app, app.slug),
                auth_type=_auth_type(app),
            )
            for app in await _offered(call, grant)
        ]
    )


@router.route(
    "GET",
    "/v2/link/provider/oauth/{oauth_provider}",
    summary="An OAuth provider of a link token (x-vital-link-token) with its oauth_url: the "
    "hosted Link flow, straight to the provider's sign-in (uses the link token up when opened)",
    access=Access.PUBLIC,
    response=VitalSource,
)
async def vital_generate_oauth_link(call: Call) -> VitalSource:
    token = _header_token(call)
    grant = await _live_grant(call, token)
    return _oauth_source(call, token, await _offered_app(call, grant, call.path("oauth_provider")))


@router.route(
    "POST",
    "/v2/link/start",
    summary="Start connecting a provider of a link token (the token in the body): its source, "
    "with oauth_url for an OAuth provider",
    access=Access.PUBLIC,
    body=VitalStartConnect,
    response=VitalSource,
)
async def vital_start_connect(call: Call, body: VitalStartConnect) -> VitalSource:
    grant = await _live_grant(call, body.link_token)
    app = await _offered_app(call, grant, body.provider)
    if app.auth_kind == "oauth2":
        return _oauth_source(call, body.link_token, app)
    return _source(call, app, None)


@router.route(
    "GET",
    "/v2/link/state",
    summary="What a live link token (x-vital-link-token) was created with",
    access=Access.PUBLIC,
    response=VitalTokenState,
)
async def vital_token_state(call: Call) -> VitalTokenState:
    grant = await _live_grant(call, _header_token(call))
    return VitalTokenState(
        user_id=str(account_uuid(grant.tenant, grant.linked_account_id)),
        client_user_id=grant.linked_account_id,
        provider=grant.provider,
        filter_on_providers=grant.filter_on_providers,
        redirect_url=grant.redirect_url,
        expires_at=grant.expires_at,
    )


def _credential_values(app: App, username: str, password: str) -> dict[str, str]:
    """The app's connection fields from Vital's username and password: the secret field gets
    the password, the other one the username (a 400 when the app needs more than that)."""
    secret = [f for f in app.fields if f.secret]
    public = [f for f in app.fields if not f.secret]
    if len(secret) > 1 or len(public) > 1:
        names = ", ".join(f.key for f in app.fields)
        raise VitalError(
            400,
            {
                "error_type": "wrong_auth_type",
                "error_message": f"{app.name} needs the fields {names}: connect it on the hosted "
                "page (link_web_url)",
            },
        )
    values = {f.key: password for f in secret}
    values.update({f.key: username for f in public})
    return values


async def _connect_with_password(
    call: Call, token: str, slug: str, username: str, password: str
) -> VitalProviderLinkResult:
    res = call.resources
    grant = await _live_grant(call, token)
    app = await _offered_app(call, grant, slug)
    if app.auth_kind not in ("api_key", "basic"):
        how = (
            f"GET /v2/link/provider/oauth/{slug}"
            if app.auth_kind == "oauth2"
            else "the hosted page (link_web_url)"
        )
        raise VitalError(
            400,
            {
                "error_type": "wrong_auth_type",
                "error_message": f"{app.name} does not sign in with a password: use {how}",
            },
        )
    values = _credential_values(app, username, password)
    problems = link_flow.check_fields(app, values)
    if problems:
        return VitalProviderLinkResult(
            state="error",
            provider=slug,
            connected=False,
            error_type="provider_credential_error",
            error="; ".join(problems.values()),
        )
    try:
        outcome = await link_flow.connect_with_link_token(
            pool=res.pool,
            redis=res.redis,
            caches=res.caches,
            keyring=res.keyring,
            catalog=res.catalog,
            http=res.http,
            settings=res.settings,
            link_token=token,
            app=app,
            values=values,
        )
    except FlowError as error:  # the token was used meanwhile, or the app was disabled
        raise VitalError(
            401 if error.code is FlowErrorCode.LINK_TOKEN_INVALID else 400,
            {"error_type": "invalid_token", "error_message": error.message},
        ) from None
    if outcome.succeeded:
        return VitalProviderLinkResult(
            state="success", provider=slug, connected=True, redirect_url=outcome.redirect_to
        )
    assert outcome.error is not None
    return VitalProviderLinkResult(
        state="error",
        provider=slug,
        connected=False,
        redirect_url=outcome.redirect_to,
        error_type=VITAL_ERROR_TYPES.get(FlowErrorCode(outcome.error), "provider_api_error"),
        error=outcome.error_description,
    )


@router.route(
    "POST",
    "/v2/link/provider/password/{provider}",
    summary="Connect an API-key or basic-auth provider of a link token (x-vital-link-token): "
    "the password fills its secret field, the username its other field; uses the token up",
    access=Access.PUBLIC,
    body=VitalPasswordConnect,
    response=VitalProviderLinkResult,
)
async def vital_connect_password_provider(
    call: Call, body: VitalPasswordConnect
) -> VitalProviderLinkResult:
    return await _connect_with_password(
        call, _header_token(call), call.path("provider"), body.username, body.password
    )


@router.route(
    "POST",
    "/v2/link/auth",
    summary="Connect a password provider of a link token (x-vital-link-token), naming it in "
    "the body (auth_type password)",
    access=Access.PUBLIC,
    body=VitalPasswordAuth,
    response=VitalProviderLinkResult,
)
async def vital_password_auth(call: Call, body: VitalPasswordAuth) -> VitalProviderLinkResult:
    if body.auth_type != "password":
        raise _not_offered(
            f"auth_type {body.auth_type!r} is not offered here: OAuth providers start at "
            "GET /v2/link/provider/oauth/{provider}; Linkport has no email providers"
        )
    return await _connect_with_password(
        call, _header_token(call), body.provider, body.username, body.password
    )


@router.route(
    "POST",
    "/v2/link/provider/email/{provider}",
    summary="Not offered: Linkport has no providers that connect with an email address",
    access=Access.PUBLIC,
)
async def vital_connect_email_provider(call: Call) -> VitalSuccess:
    slug = call.path("provider")
    app = call.resources.catalog.get(slug)
    how = "Linkport has no such provider (GET /v2/providers lists them)"
    if app is not None and app.auth_kind == "oauth2":
        how = f"{app.name} signs in with OAuth: GET /v2/link/provider/oauth/{slug}"
    elif app is not None and app.auth_kind in ("api_key", "basic"):
        how = f"{app.name} signs in with a password: POST /v2/link/provider/password/{slug}"
    raise _not_offered(f"Linkport has no providers that connect with an email address; {how}")


# Users ---------------------------------------------------------------------------------------


@router.route(
    "POST",
    "/v2/user",
    aliases=("/v2/user/",),
    summary="Create a user: a linked account named client_user_id, with a user_id UUID; "
    "400 when client_user_id exists (detail names its user_id)",
    body=VitalUserCreate,
    response=VitalUser,
    vital_header=True,
)
async def vital_create_user(call: Call, body: VitalUserCreate) -> VitalUser:
    res = call.resources
    account, created = await accounts.create_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=body.client_user_id,
        profile=_profile(body),
    )
    if not created:
        raise VitalError(
            400,
            {
                "error_type": "INVALID_REQUEST",
                "error_message": "Client user id already exists.",
                "user_id": str(account.account_uuid),
                "created_on": account.created_at.isoformat(),
            },
        )
    return _user(call, account, [])


@router.route(
    "GET",
    "/v2/user",
    aliases=("/v2/user/",),
    summary="The client's users, ordered by client_user_id, paged by offset and limit",
    query=VitalUsersQuery,
    response=VitalUsersPage,
    vital_header=True,
)
async def vital_list_users(call: Call, query: VitalUsersQuery) -> VitalUsersPage:
    found, total = await account_store.numbered_page(
        call.resources.pool, tenant=call.tenant, offset=query.offset, limit=query.limit
    )
    connections = await _connections(call, found)
    return VitalUsersPage(
        users=[_user(call, a, connections) for a in found],
        total=total,
        offset=query.offset,
        limit=query.limit,
    )


@router.route(
    "GET",
    "/v2/user/metrics",
    summary="How many users and connected sources (and errored ones) the client has",
    response=VitalMetrics,
    vital_header=True,
)
async def vital_team_metrics(call: Call) -> VitalMetrics:
    pool = call.resources.pool
    by_status = await connection_store.count_by_status(pool, tenant=call.tenant)
    return VitalMetrics(
        team_id=str(call.tenant.client_id),
        number_of_users=await account_store.count_accounts(pool, tenant=call.tenant),
        number_of_connected_sources=sum(by_status.values()),
        number_of_errored_connected_sources=sum(
            n for status, n in by_status.items() if status is not ConnectionStatus.ACTIVE
        ),
    )


@router.route(
    "GET",
    "/v2/user/resolve/{client_user_id}",
    summary="The user whose client_user_id (linked account id) this is",
    response=VitalUser,
    vital_header=True,
)
async def vital_resolve_user(call: Call) -> VitalUser:
    account = await account_store.get_account(
        call.resources.pool, tenant=call.tenant, linked_account_id=call.path("client_user_id")
    )
    if account is None:
        raise _user_not_found()
    return _user(call, account, await _connections(call, [account]))


def _with_status(call: Call, stored: StoredConnection) -> VitalProviderWithStatus:
    connection = stored.connection
    provider = _provider(call, connection.app)
    error = None
    if connection.status is not ConnectionStatus.ACTIVE:
        error = VitalConnectionErrorDetails(
            error_type="token_refresh_failed"
            if connection.status is ConnectionStatus.NEEDS_REAUTH
            else "deregistered_per_provider",
            error_message=connection.status_reason or connection.status.value,
            errored_at=connection.updated_at,
        )
    return VitalProviderWithStatus(
        **provider.model_dump(),
        created_on=connection.created_at,
        status="connected" if error is None else "error",
        external_user_id=stored.provider_account_id,
        error_details=error,
    )


@router.route(
    "GET",
    "/v2/user/providers/{user_id}",
    summary="A user's connected providers: connected, or error with error_details",
    response=VitalConnectedProviders,
    vital_header=True,
)
async def vital_connected_providers(call: Call) -> VitalConnectedProviders:
    account = await _required_user(call, call.path("user_id"))
    connections = await _connections(call, [account])
    return VitalConnectedProviders(providers=[_with_status(call, c) for c in connections])


@router.route(
    "GET",
    "/v2/user/{user_id}",
    summary="One user, with its connected sources",
    response=VitalUser,
    vital_header=True,
)
async def vital_get_user(call: Call) -> VitalUser:
    account = await _required_user(call, call.path("user_id"))
    return _user(call, account, await _connections(call, [account]))


@router.route(
    "PATCH",
    "/v2/user/{user_id}",
    summary="Change a user's fallback time zone, birth date or ingestion window "
    "(client_user_id cannot change: it is the linked account's id)",
    body=VitalUserPatch,
    response=VitalUser,
    vital_header=True,
)
async def vital_patch_user(call: Call, body: VitalUserPatch) -> VitalUser:
    account = await _required_user(call, call.path("user_id"))
    if body.client_user_id not in (None, account.linked_account_id):
        raise VitalError(
            400,
            {
                "error_type": "INVALID_REQUEST",
                "error_message": "client_user_id cannot change in Linkport: it is the linked "
                "account's id",
            },
        )
    changes = _profile(body)
    if changes:
        account = await accounts.update_profile(
            pool=call.resources.pool,
            tenant=call.tenant,
            linked_account_id=account.linked_account_id,
            changes=changes,
        )
    return _user(call, account, await _connections(call, [account]))


@router.route(
    "DELETE",
    "/v2/user/{user_id}",
    summary="Delete a user: the linked account, its connections and every token issued for it",
    response=VitalSuccess,
    vital_header=True,
)
async def vital_delete_user(call: Call) -> VitalSuccess:
    res = call.resources
    account = await _required_user(call, call.path("user_id"))
    await accounts.delete_account(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        tenant=call.tenant,
        linked_account_id=account.linked_account_id,
    )
    return VitalSuccess()


@router.route(
    "DELETE",
    "/v2/user/{user_id}/{provider}",
    summary="Deregister a provider: delete the user's connection to that app",
    response=VitalSuccess,
    vital_header=True,
)
async def vital_deregister_provider(call: Call) -> VitalSuccess:
    account = await _required_user(call, call.path("user_id"))
    slug = call.path("provider")
    gone = await connection_service.disconnect_app(
        pool=call.resources.pool,
        redis=call.resources.redis,
        tenant=call.tenant,
        linked_account_id=account.linked_account_id,
        app=slug,
    )
    if not gone:
        raise VitalError(404, f"Provider {slug} is not connected for this user")
    return VitalSuccess()


# Providers -----------------------------------------------------------------------------------


@router.route(
    "GET",
    "/v2/providers",
    aliases=("/v2/providers/",),
    summary="Every catalog app as a provider (source type app): auth_type oauth for OAuth "
    "apps, password for API-key and basic-auth apps",
    query=VitalProvidersQuery,
    response=VitalProviderList,
    vital_header=True,
)
async def vital_list_providers(call: Call, query: VitalProvidersQuery) -> VitalProviderList:
    if query.source_type not in (None, "app"):
        return VitalProviderList([])
    return VitalProviderList(
        [
            VitalProviderDetailed(
                name=app.name,
                slug=app.slug,
                description=app.description,
                logo=_logo(call, app, app.slug),
                auth_type=_auth_type(app),
                supported_resources=[],
            )
            for app in call.resources.catalog
        ]
    )


# What Linkport does not offer: declared, so /openapi.json lists them and the SDK gets a 400
# naming what is missing instead of a bare 404. ---------------------------------------------

_NOT_OFFERED: list[tuple[str, str, str, str]] = [
    ("POST", "/v2/link/code/create", "code_create", "sign-in codes for Vital's mobile SDK"),
    (
        "POST",
        "/v2/link/provider/password/{provider}/complete_mfa",
        "complete_password_provider_mfa",
        "multi-factor steps: password providers connect in one step",
    ),
    ("POST", "/v2/link/auth/email", "email_auth", "providers that connect with an email address"),
    ("POST", "/v2/link/provider/manual/{provider}", "connect_manual_provider", "manual providers"),
    ("POST", "/v2/link/connect/demo", "connect_demo_provider", "demo connections (use sandbox)"),
    ("GET", "/v2/link/bulk_op", "list_bulk_ops", "bulk operations"),
    ("POST", "/v2/link/bulk_import", "bulk_import", "bulk import of connections"),
    (
        "POST",
        "/v2/link/bulk_trigger_historical_pull",
        "bulk_trigger_historical_pull",
        "historical data pulls",
    ),
    ("POST", "/v2/link/bulk_export", "bulk_export", "bulk export of connections"),
    ("POST", "/v2/link/bulk_pause", "bulk_pause", "pausing connections"),
    ("POST", "/v2/user/undo_delete", "undo_delete", "undoing a delete: deletes are final"),
    ("POST", "/v2/user/refresh/{user_id}", "refresh", "data refreshes (Linkport pulls no data)"),
    ("GET", "/v2/user/{user_id}/info/latest", "get_latest_user_info", "user demographics"),
    ("PATCH", "/v2/user/{user_id}/info", "upsert_user_info", "user demographics"),
    ("POST", "/v2/user/{user_id}/insurance", "create_insurance", "insurance"),
    ("GET", "/v2/user/{user_id}/insurance/latest", "get_latest_insurance", "insurance"),
    ("GET", "/v2/user/{user_id}/device", "get_devices", "devices"),
    ("GET", "/v2/user/{user_id}/device/{device_id}", "get_device", "devices"),
    ("POST", "/v2/user/{user_id}/sign_in_token", "get_user_sign_in_token", "sign-in tokens"),
    ("POST", "/v2/user/{user_id}/create_portal_url", "create_portal_url", "the user portal"),
]


def _declare_not_offered(method: str, path: str, sdk_method: str, what: str) -> None:
    message = f"Linkport does not offer {what} ({method} {path}, the SDK's {sdk_method})"

    async def not_offered(call: Call) -> VitalSuccess:
        raise _not_offered(message)

    not_offered.__name__ = f"vital_{sdk_method}"
    router.route(method, path, summary=f"Not offered: {what}", access=Access.PUBLIC)(not_offered)


for _method, _path, _sdk_method, _what in _NOT_OFFERED:
    _declare_not_offered(_method, _path, _sdk_method, _what)


# Any other /v2/ path (other Vital APIs: summaries, time series, lab tests…) answers in
# Vital's shape too, registered after every declared route (aiohttp tries longer prefixes first).
fallback = web.RouteTableDef()


@fallback.route("*", "/v2/{tail:.*}")
async def vital_not_offered(request: web.Request) -> web.Response:
    """A JSON 404 naming what Linkport does not offer (never a bare route 404)."""
    body = VitalErrorBody(
        detail={
            "error_type": NOT_OFFERED,
            "error_message": f"Linkport does not offer {request.method} {request.path}: its "
            "Vital-compatible routes (link, user, providers) are listed in /openapi.json "
            "under the tag vital",
        }
    )
    return web.Response(
        body=body.__pydantic_serializer__.to_json(body),
        status=404,
        content_type="application/json",
    )
