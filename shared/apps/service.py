"""Which apps a client offers, with which OAuth client, and a linked account's status in each."""

from __future__ import annotations

from shared.apps import store as app_settings
from shared.apps.models import AppSettings
from shared.apps.schemas import AppAction, AppConnection, AppField, AppRead, AppUpdate
from shared.config import Settings
from shared.connections import store as connection_store
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


def _read(
    app: App, row: AppSettings | None, tenant: Tenant, connection: AppConnection | None
) -> AppRead:
    return AppRead(
        slug=app.slug,
        name=app.name,
        description=app.description,
        logo_url=app.logo_path,
        categories=app.categories,
        auth_kind=app.auth_kind,
        enabled=is_enabled(app, row, tenant),
        has_own_oauth_client=bool(row and row.oauth_client_id),
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
        connection=connection,
    )


async def enabled_apps(*, pool: Pool, catalog: Catalog, tenant: Tenant) -> list[App]:
    """The apps the tenant offers its end users, in catalog order."""
    rows = await app_settings.all_settings(pool, tenant=tenant)
    return [app for app in catalog if is_enabled(app, rows.get(app.slug), tenant)]


async def list_apps(
    *,
    pool: Pool,
    catalog: Catalog,
    tenant: Tenant,
    linked_account_id: str | None,
    include_disabled: bool,
) -> list[AppRead]:
    """Apps as the API shows them; with an account, that account's connection to each."""
    rows = await app_settings.all_settings(pool, tenant=tenant)
    connected: dict[str, AppConnection] = {}
    if linked_account_id is not None:
        items, _ = await connection_store.list_connections(
            pool,
            tenant=tenant,
            limit=len(list(catalog)),
            cursor=None,
            linked_account_id=linked_account_id,
            app=None,
            status=None,
        )
        connected = {c.app: AppConnection(id=str(c.id), status=c.status) for c in items}
    return [
        _read(app, rows.get(app.slug), tenant, connected.get(app.slug))
        for app in catalog
        if include_disabled or is_enabled(app, rows.get(app.slug), tenant)
    ]


async def configure_app(
    *, pool: Pool, keyring: Keyring, catalog: Catalog, tenant: Tenant, slug: str, update: AppUpdate
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
    return _read(app, row, tenant, None)


async def oauth_client(
    *, pool: Pool, keyring: Keyring, settings: Settings, tenant: Tenant, app: App
) -> OAuthClient | None:
    """The OAuth client to use for ``app``: the client's own, else Linkport's built-in one;
    None when neither exists."""
    assert app.oauth is not None
    row = (await app_settings.all_settings(pool, tenant=tenant)).get(app.slug)
    scopes = (row.scopes if row and row.scopes is not None else None) or app.oauth.scopes
    if row is not None and row.oauth_client_id and row.oauth_client_secret is not None:
        secret = keyring.open(row.oauth_client_secret, bound_to=_seal_binding(tenant, app.slug))
        return OAuthClient(row.oauth_client_id, secret.decode(), scopes)
    if app.oauth.builtin_client == "sandbox":
        return OAuthClient(settings.sandbox_client_id, settings.sandbox_client_secret, scopes)
    return None
