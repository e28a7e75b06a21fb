"""Headless OAuth connect: a backend with its own UI asks for an app's authorization URL
(``POST /v1/connect/oauth-url``) and sends its user's browser there itself.

The provider redirects back to the same ``/link/oauth/callback`` as the hosted page, and
``complete_oauth`` finishes the same way (the connection stored, ``connection.created``
sent). No hosted session (cookie) exists: the one-time state carries the grant the request
was made with, and is the only thing binding the callback to it. The browser ends at the
request's ``redirect_url`` with ``connection_id`` and ``status=success`` (or ``error`` and
``error_description``), or at Linkport's done page when none was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.apps import service as apps
from shared.caches import Caches
from shared.clients import service as client_settings
from shared.config import Settings
from shared.connections import store as connection_store
from shared.connectors.catalog import Catalog
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.grants.models import LinkFlow, LinkGrant
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import OutboundClient
from shared.link import flow
from shared.link.schemas import HeadlessOAuthCreate
from shared.tenancy import Tenant


@dataclass(frozen=True)
class HeadlessAuthorization:
    """The provider's authorization URL and until when its state is accepted."""

    authorize_url: str
    state_expires_at: datetime


async def start_oauth(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    catalog: Catalog,
    http: OutboundClient,
    settings: Settings,
    tenant: Tenant,
    request: HeadlessOAuthCreate,
) -> HeadlessAuthorization:
    """Check the request and start one OAuth round trip for it: 404 for an unknown app,
    linked account or connection; 422 for a key-based app, an app without an OAuth client,
    a redirect URL off the allow-list, bad fields, or a FHIR server whose SMART configuration
    cannot be used; 400 ``app_not_offered`` for an app the client has not enabled."""
    app = catalog.get(request.app)
    if app is None:
        raise not_found("app", field="app")
    if app.auth_kind != "oauth2" or app.oauth is None:
        raise invalid(
            "app", f"app: {app.slug} uses {app.auth_kind}, not OAuth2; connect it with its fields"
        )
    if app not in await apps.enabled_apps(pool=pool, catalog=catalog, tenant=tenant):
        raise ApiError(
            ErrorCode.APP_NOT_OFFERED,
            f"{app.slug} is not enabled for this client (PUT /v1/apps/{app.slug})",
            field="app",
        )
    if request.redirect_url is not None:
        chosen = await client_settings.get_settings(pool=pool, caches=caches, tenant=tenant)
        if not client_settings.is_redirect_allowed(chosen, request.redirect_url):
            raise invalid(
                "redirect_url",
                "redirect_url: not on this client's allowed_redirect_urls (PATCH /v1/settings)",
            )
    account = await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=request.linked_account_id
    )
    if request.connection_id is not None:
        existing = await connection_store.get_connection(
            pool, tenant=tenant, connection_id=request.connection_id
        )
        if (
            existing is None
            or existing.connection.linked_account_id != request.linked_account_id
            or existing.connection.app != app.slug
        ):
            raise not_found(f"{app.slug} connection of this linked account", field="connection_id")
    fields = _public_fields(app_fields={f.key for f in app.public_fields}, given=request.fields)
    if problems := flow.check_fields(app, fields):
        key, problem = next(iter(problems.items()))
        raise invalid(f"fields.{key}", f"fields.{key}: {problem}")
    client = await apps.oauth_client(
        pool=pool, keyring=keyring, settings=settings, tenant=tenant, app=app
    )
    if client is None:
        raise invalid("app", f"app: {app.name} has no OAuth client configured (PUT /v1/apps)")
    try:
        endpoints = await flow.oauth_endpoints(http=http, settings=settings, app=app, fields=fields)
    except flow.DiscoveryFailed as exc:
        raise invalid("fields", f"fields: {app.name} could not be reached: {exc}") from None
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.oauth_state_ttl)
    grant = LinkGrant(
        client_id=tenant.client_id,
        environment=tenant.environment,
        linked_account_id=request.linked_account_id,
        account_created_at=account.created_at,
        expires_at=expires_at,
        flow=LinkFlow.HEADLESS,
        org_id=account.org_id,
        provider=app.slug,
        redirect_url=request.redirect_url,
        update_connection_id=request.connection_id,
    )
    url = await flow.authorize(
        redis=redis,
        settings=settings,
        app=app,
        client=client,
        endpoints=endpoints,
        fields=fields,
        session_key=None,
        headless=grant,
    )
    return HeadlessAuthorization(url, expires_at)


def _public_fields(*, app_fields: set[str], given: dict[str, str]) -> dict[str, str]:
    """The given connection fields, stripped; 422 for a key the app has no public field for."""
    unknown = sorted(set(given) - app_fields)
    if unknown:
        raise invalid(
            f"fields.{unknown[0]}",
            f"fields.{unknown[0]}: not a public connection field of this app"
            + (f" (it has: {', '.join(sorted(app_fields))})" if app_fields else " (it has none)"),
        )
    return {k: v.strip() for k, v in given.items() if v.strip()}
