"""Which apps a client offers, with which OAuth client, and a linked account's status in each."""

from __future__ import annotations

from shared.apps import store as app_settings
from shared.apps.defaults import load_oauth_defaults
from shared.apps.models import AppSettings
from shared.apps.schemas import (
    AppAction,
    AppConnection,
    AppField,
    AppRead,
    AppUpdate,
    OAuthClientSource,
)
from shared.config import Settings
from shared.connections import store as connection_store
from shared.connections.models import Connection, newest_per_app
from shared.connectors import actions_of
from shared.connectors.catalog import App, Catalog
from shared.connectors.oauth import OAuthClient
from shared.errors import ApiError, ErrorCode, not_found
from shared.infra.crypto import Keyring, Sealed
from shared.infra.db import Pool
from shared.tenancy import Tenant


def is_enabled(app: App, row: AppSettings | None, tenant: Tenant) -> bool:
    """A settings row decides; without one, the catalog's default for the environment."""
    return row.enabled if row is not None else tenant.environment in app.default_enabled


def _seal_binding(tenant: Tenant, slug: str) -> str:
    return f"app-secret:{tenant.client_id}:{tenant.environment}:{slug}"


def oauth_client_source(
    *, app: App, row: AppSettings | None, settings: Settings
) -> OAuthClientSource | None:
    """Whose OAuth client connects ``app`` for a tenant with these settings: its own, else
    the operator's default, else Linkport's built-in; None when there is none (or the app
    does not use OAuth2)."""
    if app.oauth is None:
        return None
    if row is not None and row.oauth_client_id and row.oauth_client_secret is not None:
        return "own"
    if app.slug in load_oauth_defaults(settings.oauth_defaults_file):
        return "operator"
    if app.oauth.builtin_client == "sandbox":
        return "builtin"
    return None


def _app_connection(connection: Connection) -> AppConnection:
    return AppConnection(id=str(connection.id), status=connection.status)


def _read(
    app: App,
    row: AppSettings | None,
    tenant: Tenant,
    settings: Settings,
    connections: list[Connection] | None = None,
) -> AppRead:
    """``connections``: the account's connections to the app, newest first (None: no account)."""
    default = newest_per_app(connections or [])
    return AppRead(
        slug=app.slug,
        name=app.name,
        description=app.description,
        logo_url=app.logo_path,
        categories=app.categories,
        auth_kind=app.auth_kind,
        enabled=is_enabled(app, row, tenant),
        has_own_oauth_client=bool(row and row.oauth_client_id),
        oauth_client_source=oauth_client_source(app=app, row=row, settings=settings),
        fields=[
            AppField(key=f.key, label=f.label, type=f.type, required=f.required, secret=f.secret)
            for f in app.fields
        ],
        actions=[
            AppAction(
                name=a.name,
                description=a.description,
                input_schema=a.input_model.model_json_schema(),
            )
            for a in actions_of(app.slug)
        ],
        connection=next((_app_connection(c) for c in default.values()), None),
        connections=[_app_connection(c) for c in connections or []],
    )


async def enabled_apps(*, pool: Pool, catalog: Catalog, tenant: Tenant) -> list[App]:
    """The apps the tenant offers its end users, in catalog order."""
    rows = await app_settings.all_settings(pool, tenant=tenant)
    return [app for app in catalog if is_enabled(app, rows.get(app.slug), tenant)]


async def list_apps(
    *,
    pool: Pool,
    catalog: Catalog,
    settings: Settings,
    tenant: Tenant,
    linked_account_id: str | None,
    include_disabled: bool,
) -> list[AppRead]:
    """Apps as the API shows them; with an account, that account's connections to each."""
    rows = await app_settings.all_settings(pool, tenant=tenant)
    connected: dict[str, list[Connection]] | None = None
    if linked_account_id is not None:
        connected = {}
        stored = await connection_store.list_for_accounts(
            pool, tenant=tenant, linked_account_ids=[linked_account_id]
        )
        for item in reversed(stored):  # newest first
            connected.setdefault(item.connection.app, []).append(item.connection)
    return [
        _read(
            app,
            rows.get(app.slug),
            tenant,
            settings,
            None if connected is None else connected.get(app.slug, []),
        )
        for app in catalog
        if include_disabled or is_enabled(app, rows.get(app.slug), tenant)
    ]


async def configure_app(
    *,
    pool: Pool,
    keyring: Keyring,
    catalog: Catalog,
    settings: Settings,
    tenant: Tenant,
    slug: str,
    update: AppUpdate,
) -> AppRead:
    """Enable/disable an app or set the client's own OAuth client (secret stored encrypted)."""
    app = catalog.get(slug)
    if app is None:
        raise not_found("app")
    given = update.model_dump(exclude_unset=True)
    if ("oauth_client_id" in given or "oauth_client_secret" in given) and app.auth_kind != "oauth2":
        raise ApiError(
            ErrorCode.VALIDATION_FAILED, f"{slug} does not use OAuth2", field="oauth_client_id"
        )
    current = (await app_settings.all_settings(pool, tenant=tenant)).get(slug)
    client_id = given.get("oauth_client_id", current.oauth_client_id if current else None)
    secret: Sealed | None = current.oauth_client_secret if current else None
    if "oauth_client_secret" in given:
        value = given["oauth_client_secret"]
        secret = (
            None
            if value is None
            else keyring.seal(value.encode(), bound_to=_seal_binding(tenant, slug))
        )
    if bool(client_id) != bool(secret):
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "oauth_client_id and oauth_client_secret must be set together",
            field="oauth_client_secret" if client_id else "oauth_client_id",
        )
    row = await app_settings.save_settings(
        pool,
        tenant=tenant,
        app=slug,
        enabled=update.enabled if update.enabled is not None else is_enabled(app, current, tenant),
        oauth_client_id=client_id,
        oauth_client_secret=secret,
        scopes=given.get("scopes", current.scopes if current else None),
    )
    return _read(app, row, tenant, settings)


async def oauth_client(
    *, pool: Pool, keyring: Keyring, settings: Settings, tenant: Tenant, app: App
) -> OAuthClient | None:
    """The OAuth client to use for ``app`` (``oauth_client_source`` says whose): the client's
    own, else the operator's default, else Linkport's built-in one; None when none exists.
    Scopes: the client's chosen ones, else the operator's, else the catalog's."""
    assert app.oauth is not None
    row = (await app_settings.all_settings(pool, tenant=tenant)).get(app.slug)
    chosen = row.scopes if row and row.scopes is not None else None
    source = oauth_client_source(app=app, row=row, settings=settings)
    if source == "own":
        assert row is not None
        assert row.oauth_client_id is not None
        assert row.oauth_client_secret is not None
        secret = keyring.open(row.oauth_client_secret, bound_to=_seal_binding(tenant, app.slug))
        return OAuthClient(row.oauth_client_id, secret.decode(), chosen or app.oauth.scopes)
    if source == "operator":
        operator = load_oauth_defaults(settings.oauth_defaults_file)[app.slug]
        return OAuthClient(
            operator.client_id,
            operator.client_secret,
            chosen or operator.scopes or app.oauth.scopes,
        )
    if source == "builtin":
        return OAuthClient(
            settings.sandbox_client_id, settings.sandbox_client_secret, chosen or app.oauth.scopes
        )
    return None
