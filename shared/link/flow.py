"""The hosted Link flow, from a link token to a public token.

1. ``start_session``: the browser opens ``/link?token=lt_…``; the link token is consumed
   once and a short hosted session starts (Redis, behind an HttpOnly cookie).
2. The page offers the apps the token allows. Choosing one runs ``begin_oauth``
   (authorization code + state + PKCE S256, the catalog's quirks; SMART on FHIR apps read
   the server's endpoints first) or ``connect_with_form`` (API key, fields). Headless
   connect (``shared/link/headless.py``) starts the same round trip without a session.
3. ``complete_oauth`` takes the provider's redirect back, checks the state belongs to
   this browser's session, trades the code for tokens, and ``_connect`` stores the
   credentials encrypted, creates or re-authorises the connection, and mints a public
   token (single use).
4. Every ending, success or failure, is an ``Outcome``: where the browser goes next
   (the client's redirect URL, the JS SDK's opener, or a Linkport page).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import orjson
from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.apps import service as apps
from shared.caches import Caches
from shared.clients import service as client_settings
from shared.config import Settings
from shared.connections import store as connection_store
from shared.connections.credentials import connection_binding
from shared.connectors.catalog import App, Catalog, fill, has_user_fields
from shared.connectors.oauth import (
    OAuthClient,
    OAuthError,
    authorization_url,
    exchange_code,
    filled_params,
    learned_fields,
    new_pkce,
    value_at,
    with_query,
)
from shared.connectors.verify import VerificationFailed, verify_credentials
from shared.grants import store as token_store
from shared.grants.models import HostedSession, LinkFlow, LinkGrant, OAuthState, PublicGrant
from shared.infra import redis_keys, tokens
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge
from shared.infra.tokens import TokenKind
from shared.link.models import VITAL_ERROR_TYPES, FlowErrorCode
from shared.link.service import consume_link_token
from shared.webhooks import service as webhooks

CALLBACK_PATH = "/link/oauth/callback"


class FlowError(Exception):
    """The flow cannot go on and there is nobody safe to tell but the browser (bad link,
    expired session, forged state): shown as a Linkport error page."""

    def __init__(self, code: FlowErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """How a flow ended and where the browser goes next."""

    public_token: str | None = None
    error: str | None = None
    error_description: str | None = None
    redirect_to: str | None = None  # the client's redirect URL, with token or error added
    sdk_origin: str | None = None  # postMessage target when the JS SDK opened the page
    app: str | None = None
    connection_id: str | None = None
    # Whether the end user is shown the public token (not in Vital's flow: its clients read
    # the connection from the API).
    show_token: bool = True

    @property
    def succeeded(self) -> bool:
        """Whether a connection was made."""
        return self.public_token is not None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _origin_allowed(
    *, pool: Pool, caches: Caches, base_url: str, grant: LinkGrant, origin: str
) -> bool:
    chosen = await client_settings.get_settings(pool=pool, caches=caches, tenant=grant.tenant)
    allowed = {_origin(base_url)}
    allowed |= {_origin(u) for u in chosen.allowed_redirect_urls}
    if chosen.callback_url:
        allowed.add(_origin(chosen.callback_url))
    return origin.rstrip("/").lower() in allowed


def _session_key(session_id: str) -> str:
    return redis_keys.hosted_session(tokens.hex_digest(session_id))


async def start_session(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    settings: Settings,
    link_token: str,
    sdk_origin: str | None,
) -> str:
    """Consume the link token and start a hosted session; returns the session id (cookie)."""
    grant = await consume_link_token(pool=pool, redis=redis, caches=caches, token=link_token)
    if grant is None:
        raise FlowError(
            FlowErrorCode.LINK_TOKEN_INVALID,
            "This link has expired or has already been used. Ask the app that sent you here for a new one.",
        )
    if sdk_origin is not None and not await _origin_allowed(
        pool=pool, caches=caches, base_url=settings.base_url, grant=grant, origin=sdk_origin
    ):
        raise FlowError(
            FlowErrorCode.ORIGIN_NOT_ALLOWED,
            "This page was opened from a site that is not allowed.",
        )
    session = HostedSession(
        link=grant,
        csrf=secrets.token_urlsafe(24),
        sdk_origin=sdk_origin,
        color=grant.color,
        display_name=grant.display_name,
    )
    session_id = secrets.token_urlsafe(32)
    await redis.set(
        _session_key(session_id), session.model_dump_json(), ex=settings.hosted_session_ttl
    )
    return session_id


async def load_session(*, redis: Redis, session_id: str | None) -> HostedSession:
    """The browser's hosted session, or FlowError when it has none (or it expired)."""
    raw = await redis.get(_session_key(session_id)) if session_id else None
    if raw is None:
        raise FlowError(
            FlowErrorCode.SESSION_EXPIRED,
            "This Link session has ended or expired. Start again from the app that sent you here.",
        )
    return HostedSession.model_validate_json(raw)


async def offered_apps(*, pool: Pool, catalog: Catalog, session: HostedSession) -> list[App]:
    """The apps this session may connect: enabled ones, narrowed by the link token's options."""
    return await apps_for_grant(pool=pool, catalog=catalog, grant=session.link)


async def apps_for_grant(*, pool: Pool, catalog: Catalog, grant: LinkGrant) -> list[App]:
    """The apps a link token lets its user connect: enabled ones, narrowed by its options."""
    offered = await apps.enabled_apps(pool=pool, catalog=catalog, tenant=grant.tenant)
    if grant.update_connection_id is not None:
        existing = await connection_store.get_connection(
            pool, tenant=grant.tenant, connection_id=grant.update_connection_id
        )
        return [a for a in offered if existing is not None and a.slug == existing.connection.app]
    if grant.filter_on_providers:
        wanted = set(grant.filter_on_providers)
        offered = [a for a in offered if a.slug in wanted]
    if grant.emr_name:
        name = grant.emr_name.casefold()
        matching = [a for a in offered if name in (a.slug.casefold(), a.name.casefold())]
        offered = matching or offered
    return offered


def preselected(session: HostedSession, offered: list[App]) -> App | None:
    """The app to open directly: the token's ``provider``, or the one app of update mode."""
    grant = session.link
    if grant.provider is not None:
        return next((a for a in offered if a.slug == grant.provider), None)
    if grant.update_connection_id is not None and len(offered) == 1:
        return offered[0]
    return None


def check_fields(app: App, values: dict[str, str]) -> dict[str, str]:
    """Problems with the submitted connection fields, by field key (empty when all is well)."""
    problems = {}
    for spec in app.fields:
        value = values.get(spec.key, "").strip()
        if not value:
            if spec.required:
                problems[spec.key] = f"{spec.label} is required"
            continue
        if len(value) > 4096:
            problems[spec.key] = f"{spec.label} is too long"
        elif spec.type == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems[spec.key] = f"{spec.label} must be an http(s) URL"
    return problems


async def _oauth_client(
    *, pool: Pool, keyring: Keyring, settings: Settings, session: HostedSession, app: App
) -> OAuthClient | None:
    return await apps.oauth_client(
        pool=pool,
        keyring=keyring,
        settings=settings,
        tenant=session.link.tenant,
        app=app,
    )


@dataclass(frozen=True)
class OAuthEndpoints:
    """Where one OAuth round trip goes: the catalog's URLs filled in, or (SMART on FHIR) the
    ones the FHIR server published; the authorize URL's extra parameters (``aud``…)."""

    authorize_url: str
    token_url: str
    token_url_from_catalog: bool
    authorization_params: dict[str, str]
    discovered: dict[str, str]


class DiscoveryFailed(Exception):
    """The FHIR server's SMART configuration could not be read or is unusable."""


SMART_CONFIGURATION = "/.well-known/smart-configuration"


async def oauth_endpoints(
    *, http: OutboundClient, settings: Settings, app: App, fields: dict[str, str]
) -> OAuthEndpoints:
    """The endpoints to use for ``app`` with these connection fields. With ``smart_discovery``
    the FHIR server's ``{aud}/.well-known/smart-configuration`` is read through the outbound
    guard (its URL is user-typed) and wins over the catalog's; a 404 keeps the catalog's.
    DiscoveryFailed when it cannot be read, or lacks PKCE S256 while the app uses PKCE."""
    spec = app.oauth
    assert spec is not None
    base = settings.base_url
    params = filled_params(spec.authorization_params, base_url=base, fields=fields)
    endpoints = OAuthEndpoints(
        authorize_url=fill(spec.authorize_url, base_url=base, fields=fields),
        token_url=fill(spec.token_url, base_url=base, fields=fields),
        token_url_from_catalog=not has_user_fields(spec.token_url),
        authorization_params=params,
        discovered={},
    )
    if not spec.smart_discovery:
        return endpoints
    # SMART App Launch: aud is the FHIR base URL (the catalog's aud, else the API base URL).
    aud = params.get("aud") or fill(app.api_base_url or "", base_url=base, fields=fields)
    parts = urlsplit(aud)
    if parts.scheme not in ("http", "https") or not parts.hostname or "{" in aud:
        raise DiscoveryFailed("the FHIR base URL is missing or not an http(s) URL")
    params["aud"] = aud
    url = aud.rstrip("/") + SMART_CONFIGURATION
    try:
        reply = await http.request("GET", url, headers={"Accept": "application/json"})
    except BlockedDestination:
        raise DiscoveryFailed(f"{parts.hostname} may not be called from Linkport") from None
    except (aiohttp.ClientError, TimeoutError, ResponseTooLarge) as exc:
        raise DiscoveryFailed(f"{url} could not be read ({type(exc).__name__})") from None
    if reply.status == 404:  # no document: the catalog's endpoints
        return dataclasses.replace(endpoints, authorization_params=params)
    try:
        document = orjson.loads(reply.body) if reply.status == 200 else None
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise DiscoveryFailed(f"{url} answered {reply.status} without a SMART configuration")
    found = {
        key: document[key]
        for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint")
        if isinstance(document.get(key), str)
        and urlsplit(document[key]).scheme in ("http", "https")
    }
    if "authorization_endpoint" not in found or "token_endpoint" not in found:
        raise DiscoveryFailed(f"{url} names no authorization and token endpoints")
    methods = document.get("code_challenge_methods_supported")
    if spec.pkce and not (isinstance(methods, list) and "S256" in methods):
        raise DiscoveryFailed(f"{parts.hostname} does not support PKCE with S256")
    discovered = {"token_url": found["token_endpoint"]}
    if "revocation_endpoint" in found:
        discovered["revoke_url"] = found["revocation_endpoint"]
    return OAuthEndpoints(
        authorize_url=found["authorization_endpoint"],
        token_url=found["token_endpoint"],
        token_url_from_catalog=False,
        authorization_params=params,
        discovered=discovered,
    )


async def authorize(
    *,
    redis: Redis,
    settings: Settings,
    app: App,
    client: OAuthClient,
    endpoints: OAuthEndpoints,
    fields: dict[str, str],
    session_key: str | None,
    headless: LinkGrant | None = None,
) -> str:
    """Remember a new one-time state (bound to a hosted session's key, or to the headless
    grant) and return the provider's authorization URL for it."""
    assert app.oauth is not None
    state = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce() if app.oauth.pkce else (None, None)
    redirect_uri = settings.base_url.rstrip("/") + CALLBACK_PATH
    record = OAuthState(
        session_key=session_key,
        app=app.slug,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        fields=fields,
        token_url=endpoints.token_url,
        token_url_from_catalog=endpoints.token_url_from_catalog,
        discovered=endpoints.discovered,
        headless=headless,
    )
    await redis.set(
        redis_keys.oauth_state(tokens.hex_digest(state)),
        record.model_dump_json(),
        ex=settings.oauth_state_ttl,
    )
    return authorization_url(
        spec=app.oauth,
        authorize_url=endpoints.authorize_url,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        state=state,
        scopes=client.scopes,
        code_challenge=challenge,
        extra_params=endpoints.authorization_params,
    )


async def begin_oauth(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    http: OutboundClient,
    settings: Settings,
    session_id: str,
    session: HostedSession,
    app: App,
    fields: dict[str, str],
) -> str | Outcome:
    """The provider's authorization URL to send the browser to (or an Outcome if impossible);
    FlowError when a SMART server's configuration cannot be used (the user may fix the URL)."""
    assert app.oauth is not None
    client = await _oauth_client(
        pool=pool, keyring=keyring, settings=settings, session=session, app=app
    )
    if client is None:
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.APP_NOT_CONFIGURED,
            description=f"{app.name} has no OAuth client configured for this client",
        )
    try:
        endpoints = await oauth_endpoints(http=http, settings=settings, app=app, fields=fields)
    except DiscoveryFailed as exc:
        raise FlowError(
            FlowErrorCode.SMART_DISCOVERY_FAILED,
            f"{app.name} could not be reached at the address given: {exc}. "
            "Go back and check the address.",
        ) from None
    return await authorize(
        redis=redis,
        settings=settings,
        app=app,
        client=client,
        endpoints=endpoints,
        fields=fields,
        session_key=tokens.hex_digest(session_id),
    )


async def complete_oauth(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    catalog: Catalog,
    http: OutboundClient,
    settings: Settings,
    session_id: str | None,
    state: str,
    code: str | None,
    error: str | None,
    callback_params: Mapping[str, str] | None = None,
) -> Outcome:
    """The provider sent the browser back: check the state, trade the code, connect.
    ``callback_params``: the callback's whole query (the app's callback_fields come from it)."""
    raw = await redis.getdel(redis_keys.oauth_state(tokens.hex_digest(state))) if state else None
    if raw is None:
        raise FlowError(
            FlowErrorCode.OAUTH_STATE_INVALID,
            "This sign-in attempt is unknown or has expired. Please start again.",
        )
    record = OAuthState.model_validate_json(raw)
    if record.headless is not None:
        # Headless connect: no browser session exists; the one-time state is the binding.
        session_id = ""
        session = HostedSession(link=record.headless, csrf="")
    else:
        if session_id is None or record.session_key != tokens.hex_digest(session_id):
            raise FlowError(
                FlowErrorCode.OAUTH_STATE_MISMATCH,
                "This sign-in was started in another browser session.",
            )
        session = await load_session(redis=redis, session_id=session_id)
    app = catalog.get(record.app)
    assert app is not None
    assert app.oauth is not None
    if record.headless is not None and not await accounts.grant_is_current(
        pool=pool, caches=caches, grant=record.headless
    ):  # the account was deleted (or deleted and created again) since the URL was made
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.CONNECTION_GONE,
            description="The account this sign-in was for no longer exists.",
        )
    if error is not None or not code:
        denied = error == "access_denied"
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.OAUTH_DENIED if denied else FlowErrorCode.OAUTH_ERROR,
            description="You declined access."
            if denied
            else f"{app.name} reported an error: {error}",
        )
    client = await _oauth_client(
        pool=pool, keyring=keyring, settings=settings, session=session, app=app
    )
    if client is None:  # the tenant removed its OAuth client meanwhile
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.APP_NOT_CONFIGURED,
            description=f"{app.name} has no OAuth client configured for this client",
        )
    spec = app.oauth
    try:
        token_set, answer = await exchange_code(
            http,
            spec=spec,
            token_url=record.token_url
            or fill(spec.token_url, base_url=settings.base_url, fields=record.fields),
            from_catalog=record.token_url_from_catalog,
            client=client,
            code=code,
            redirect_uri=record.redirect_uri,
            code_verifier=record.code_verifier,
            token_params=filled_params(
                spec.token_params, base_url=settings.base_url, fields=record.fields
            ),
        )
    except OAuthError as exc:
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.OAUTH_TOKEN_FAILED,
            description=f"{app.name} did not issue a token ({exc.code})",
        )
    fields = {**record.fields, **learned_fields(spec, token_set, answer, callback_params or {})}
    account_id = token_set.account_id
    if spec.account_id_field:
        account_id = token_set.value_at(spec.account_id_field) or value_at(
            answer, spec.account_id_field
        )
    expires_at = token_set.expires_at()
    credentials = {
        "kind": "oauth2",
        "access_token": token_set.access_token,
        "refresh_token": token_set.refresh_token,
        "token_type": token_set.token_type,
        "scope": token_set.scope,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "oauth_client_id": client.client_id,
        # SMART on FHIR: the token (and revocation) endpoints this connection was made with.
        **record.discovered,
    }
    return await _connect(
        pool=pool,
        redis=redis,
        caches=caches,
        keyring=keyring,
        settings=settings,
        session_id=session_id,
        session=session,
        app=app,
        credentials=credentials,
        expires_at=expires_at,
        provider_account_id=account_id,
        fields=fields,
    )


async def connect_with_form(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    settings: Settings,
    session_id: str,
    http: OutboundClient,
    session: HostedSession,
    app: App,
    values: dict[str, str],
) -> str | Outcome:
    """A submitted connect form: OAuth apps go on to the provider (FlowError when a SMART
    server's configuration cannot be used), key-based apps connect now, once the app has
    accepted their credentials (VerificationFailed when it refuses them or cannot be asked:
    nothing is stored and the session goes on, so the user may try again)."""
    public = {f.key: values[f.key].strip() for f in app.public_fields if values.get(f.key)}
    if app.auth_kind == "oauth2":
        return await begin_oauth(
            pool=pool,
            redis=redis,
            caches=caches,
            keyring=keyring,
            http=http,
            settings=settings,
            session_id=session_id,
            session=session,
            app=app,
            fields=public,
        )
    secret = {f.key: values[f.key].strip() for f in app.fields if f.secret and values.get(f.key)}
    credentials = {"kind": app.auth_kind, **secret}
    await verify_credentials(
        http=http, app=app, credentials=credentials, fields=public, base_url=settings.base_url
    )
    return await _connect(
        pool=pool,
        redis=redis,
        caches=caches,
        keyring=keyring,
        settings=settings,
        session_id=session_id,
        session=session,
        app=app,
        credentials=credentials,
        expires_at=None,
        provider_account_id=None,
        fields=public,
    )


async def _connect(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    settings: Settings,
    session_id: str,
    session: HostedSession,
    app: App,
    credentials: dict[str, Any],
    expires_at: datetime | None,
    provider_account_id: str | None,
    fields: dict[str, str],
) -> Outcome:
    grant = session.link
    plaintext = orjson.dumps(credentials)
    try:
        connection = await connection_store.save_authorised_connection(
            pool,
            tenant=grant.tenant,
            linked_account_id=grant.linked_account_id,
            app=app.slug,
            seal=lambda row_id: keyring.seal(plaintext, bound_to=connection_binding(row_id)),
            expires_at=expires_at,
            provider_account_id=provider_account_id,
            fields=fields,
            update_connection_id=grant.update_connection_id,
        )
    except asyncpg.ForeignKeyViolationError:  # the linked account was deleted meanwhile
        connection = None
    if connection is None:
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.CONNECTION_GONE,
            description="The account or connection this link was for no longer exists.",
        )
    await webhooks.notify_connection_saved(pool=pool, redis=redis, connection=connection)
    public = PublicGrant(
        client_id=grant.client_id,
        environment=grant.environment,
        linked_account_id=grant.linked_account_id,
        account_created_at=grant.account_created_at,
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.public_token_ttl),
        connection_id=connection.id,
        app=app.slug,
        org_id=grant.org_id,
    )
    public_token = await token_store.store_token(
        redis, kind=TokenKind.PUBLIC, grant=public, ttl=settings.public_token_ttl
    )
    await end_session(redis=redis, session_id=session_id)
    target = await _redirect_target(pool=pool, caches=caches, session=session)
    return Outcome(
        public_token=public_token,
        redirect_to=with_query(
            target, _success_query(session.link, public_token, str(connection.id))
        )
        if target and not session.sdk_origin
        else None,
        sdk_origin=session.sdk_origin,
        app=app.slug,
        connection_id=str(connection.id),
        show_token=grant.flow not in (LinkFlow.VITAL, LinkFlow.HEADLESS),
    )


async def fail(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    session_id: str,
    session: HostedSession,
    code: FlowErrorCode,
    description: str,
) -> Outcome:
    """End the flow with an error code for the client (redirect URL or the SDK's onExit)."""
    await end_session(redis=redis, session_id=session_id)
    target = await _redirect_target(pool=pool, caches=caches, session=session)
    redirect_to = None
    if target and not session.sdk_origin:
        redirect_to = with_query(target, _error_query(session.link, code, description))
    return Outcome(
        error=code,
        error_description=description,
        redirect_to=redirect_to,
        sdk_origin=session.sdk_origin,
    )


def _success_query(grant: LinkGrant, public_token: str, connection_id: str) -> dict[str, str]:
    """What the redirect URL gets when the flow connected: the public token, or for Vital's
    flow its ``state=success`` (its clients read the connection from the API, not a token),
    or for headless connect the connection's id and ``status=success``."""
    if grant.flow is LinkFlow.VITAL:
        return {"state": "success"}
    if grant.flow is LinkFlow.HEADLESS:
        return {"connection_id": connection_id, "status": "success"}
    return {"token": public_token}


def _error_query(grant: LinkGrant, code: FlowErrorCode, description: str) -> dict[str, str]:
    """What the redirect URL gets when the flow failed (Vital's flow: its Link error params)."""
    if grant.flow is LinkFlow.VITAL:
        error_type = VITAL_ERROR_TYPES.get(code, "provider_api_error")
        return {"state": "error", "error_type": error_type, "error": description}
    return {"error": code, "error_description": description}


async def connect_with_link_token(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    catalog: Catalog,
    http: OutboundClient,
    settings: Settings,
    link_token: str,
    app: App,
    values: dict[str, str],
) -> Outcome:
    """Connect a key-based app (API key, basic auth) for a link token without a browser: an
    API client sends what its user typed (Vital's password providers). The link token is
    used up and a hosted session lives for this one step; FlowError when the token is not
    live, or ``app`` is not one it offers."""
    assert app.auth_kind != "oauth2"
    session_id = await start_session(
        pool=pool,
        redis=redis,
        caches=caches,
        settings=settings,
        link_token=link_token,
        sdk_origin=None,
    )
    session = await load_session(redis=redis, session_id=session_id)
    if app not in await apps_for_grant(pool=pool, catalog=catalog, grant=session.link):
        await end_session(redis=redis, session_id=session_id)
        raise FlowError(FlowErrorCode.APP_NOT_OFFERED, f"{app.name} is not offered by this link.")
    try:
        result = await connect_with_form(
            pool=pool,
            redis=redis,
            caches=caches,
            keyring=keyring,
            settings=settings,
            session_id=session_id,
            http=http,
            session=session,
            app=app,
            values=values,
        )
    except VerificationFailed as exc:
        return await fail(
            pool=pool,
            redis=redis,
            caches=caches,
            session_id=session_id,
            session=session,
            code=FlowErrorCode.CREDENTIALS_REFUSED,
            description=exc.message,
        )
    assert isinstance(result, Outcome)  # key-based apps connect at once
    return result


async def end_session(*, redis: Redis, session_id: str) -> None:
    """Forget the hosted session (the flow is over; headless connect has none: "")."""
    if session_id:
        await redis.delete(_session_key(session_id))


async def _redirect_target(*, pool: Pool, caches: Caches, session: HostedSession) -> str | None:
    if session.link.redirect_url or session.link.flow is LinkFlow.HEADLESS:
        return session.link.redirect_url  # headless without one: Linkport's done page
    settings = await client_settings.get_settings(
        pool=pool, caches=caches, tenant=session.link.tenant
    )
    return settings.callback_url
