"""The hosted Link flow, from a link token to a public token.

1. ``start_session``: the browser opens ``/link?token=lt_…``; the link token is consumed
   once and a short hosted session starts (Redis, behind an HttpOnly cookie).
2. The page offers the apps the token allows. Choosing one runs ``begin_oauth``
   (authorization code + state + PKCE S256) or ``connect_with_form`` (API key, fields).
3. ``complete_oauth`` takes the provider's redirect back, checks the state belongs to
   this browser's session, trades the code for tokens, and ``_connect`` stores the
   credentials encrypted, creates or re-authorises the connection, and mints a public
   token (single use).
4. Every ending, success or failure, is an ``Outcome``: where the browser goes next
   (the client's redirect URL, the JS SDK's opener, or a Linkport page).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
from redis.asyncio import Redis

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
    new_pkce,
    with_query,
)
from shared.connectors.verify import VerificationFailed, verify_credentials
from shared.grants import store as token_store
from shared.grants.models import HostedSession, LinkFlow, LinkGrant, OAuthState, PublicGrant
from shared.infra import redis_keys, tokens
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import OutboundClient
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


async def begin_oauth(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    settings: Settings,
    session_id: str,
    session: HostedSession,
    app: App,
    fields: dict[str, str],
) -> str | Outcome:
    """The provider's authorization URL to send the browser to (or an Outcome if impossible)."""
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
    state = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce() if app.oauth.pkce else (None, None)
    redirect_uri = settings.base_url.rstrip("/") + CALLBACK_PATH
    record = OAuthState(
        session_key=tokens.hex_digest(session_id),
        app=app.slug,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        fields=fields,
    )
    await redis.set(
        redis_keys.oauth_state(tokens.hex_digest(state)),
        record.model_dump_json(),
        ex=settings.oauth_state_ttl,
    )
    return authorization_url(
        authorize_url=fill(app.oauth.authorize_url, base_url=settings.base_url, fields=fields),
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        state=state,
        scopes=client.scopes,
        code_challenge=challenge,
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
) -> Outcome:
    """The provider sent the browser back: check the state, trade the code, connect."""
    raw = await redis.getdel(redis_keys.oauth_state(tokens.hex_digest(state))) if state else None
    if raw is None:
        raise FlowError(
            FlowErrorCode.OAUTH_STATE_INVALID,
            "This sign-in attempt is unknown or has expired. Please start again.",
        )
    record = OAuthState.model_validate_json(raw)
    if session_id is None or record.session_key != tokens.hex_digest(session_id):
        raise FlowError(
            FlowErrorCode.OAUTH_STATE_MISMATCH,
            "This sign-in was started in another browser session.",
        )
    session = await load_session(redis=redis, session_id=session_id)
    app = catalog.get(record.app)
    assert app is not None
    assert app.oauth is not None
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
    assert client is not None
    token_url = fill(app.oauth.token_url, base_url=settings.base_url, fields=record.fields)
    try:
        token_set = await exchange_code(
            http,
            token_url=token_url,
            from_catalog=not has_user_fields(app.oauth.token_url),
            client_id=client.client_id,
            client_secret=client.client_secret,
            code=code,
            redirect_uri=record.redirect_uri,
            code_verifier=record.code_verifier,
            auth=app.oauth.token_auth,
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
    expires_at = token_set.expires_at()
    credentials = {
        "kind": "oauth2",
        "access_token": token_set.access_token,
        "refresh_token": token_set.refresh_token,
        "token_type": token_set.token_type,
        "scope": token_set.scope,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "oauth_client_id": client.client_id,
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
        provider_account_id=token_set.account_id,
        fields=record.fields,
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
    """A submitted connect form: OAuth apps go on to the provider, key-based apps connect now,
    once the app has accepted their credentials (VerificationFailed when it refuses them or
    cannot be asked: nothing is stored and the session goes on, so the user may try again)."""
    public = {f.key: values[f.key].strip() for f in app.public_fields if values.get(f.key)}
    if app.auth_kind == "oauth2":
        return await begin_oauth(
            pool=pool,
            redis=redis,
            caches=caches,
            keyring=keyring,
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
        redirect_to=with_query(target, _success_query(session.link, public_token))
        if target and not session.sdk_origin
        else None,
        sdk_origin=session.sdk_origin,
        app=app.slug,
        connection_id=str(connection.id),
        show_token=grant.flow is not LinkFlow.VITAL,
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


def _success_query(grant: LinkGrant, public_token: str) -> dict[str, str]:
    """What the redirect URL gets when the flow connected: the public token, or for Vital's
    flow its ``state=success`` (its clients read the connection from the API, not a token)."""
    if grant.flow is LinkFlow.VITAL:
        return {"state": "success"}
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
    """Forget the hosted session (the flow is over)."""
    await redis.delete(_session_key(session_id))


async def _redirect_target(*, pool: Pool, caches: Caches, session: HostedSession) -> str | None:
    if session.link.redirect_url:
        return session.link.redirect_url
    settings = await client_settings.get_settings(
        pool=pool, caches=caches, tenant=session.link.tenant
    )
    return settings.callback_url
