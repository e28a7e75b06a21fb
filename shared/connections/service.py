"""Connections made by an API call instead of the hosted page: a key-based app's fields,
checked, verified with the app and stored exactly as the hosted page's form would (secrets
sealed to the row)."""

from __future__ import annotations

import uuid

import asyncpg
import orjson
from redis.asyncio import Redis

from shared.accounts import service as accounts
from shared.apps import service as apps
from shared.caches import Caches
from shared.connections import store
from shared.connections.credentials import connection_binding
from shared.connections.models import Connection
from shared.connections.schemas import ConnectionCreate
from shared.connectors.catalog import App, Catalog
from shared.connectors.verify import AppUnreachable, VerificationFailed, verify_credentials
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import OutboundClient
from shared.link.flow import check_fields
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks


async def disconnect_app(
    *, pool: Pool, redis: Redis, tenant: Tenant, linked_account_id: str, app: str
) -> list[Connection]:
    """Delete every connection of the account to ``app`` (a face's "deregister this
    provider"), their tokens owed a revocation, and announce ``connection.deleted`` for each;
    returns them (none: nothing was connected)."""
    gone = await store.delete_app_connections(
        pool, tenant=tenant, linked_account_id=linked_account_id, app=app
    )
    for connection in gone:
        await webhooks.notify_connection_deleted(pool=pool, redis=redis, connection=connection)
    return gone


async def connect_headless(
    *,
    pool: Pool,
    redis: Redis,
    caches: Caches,
    keyring: Keyring,
    http: OutboundClient,
    catalog: Catalog,
    base_url: str,
    tenant: Tenant,
    body: ConnectionCreate,
) -> Connection:
    """``POST /v1/connections``: connect a linked account to a key-based app the tenant
    offers, with the fields its user typed (a new connection each time). 404 for an unknown
    app or account, 422 for an OAuth2 or disabled app or bad fields."""
    app = catalog.get(body.app)
    if app is None:
        raise not_found("app", field="app")
    if app.auth_kind == "oauth2":
        raise invalid(
            "app",
            f"{app.slug} uses OAuth2: get an authorization URL from POST /v1/connect/oauth-url "
            "and send the user there",
        )
    if app not in await apps.enabled_apps(pool=pool, catalog=catalog, tenant=tenant):
        raise invalid("app", f"{app.slug} is not enabled for this client (PUT /v1/apps/{{slug}})")
    await accounts.require_account(
        pool=pool, caches=caches, tenant=tenant, linked_account_id=body.linked_account_id
    )
    return await connect_with_credentials(
        pool=pool,
        redis=redis,
        keyring=keyring,
        http=http,
        base_url=base_url,
        tenant=tenant,
        linked_account_id=body.linked_account_id,
        app=app,
        values=body.fields,
        update_connection_id=None,
        field_prefix="fields.",
    )


async def connect_with_credentials(
    *,
    pool: Pool,
    redis: Redis | None,
    keyring: Keyring,
    http: OutboundClient,
    base_url: str,
    tenant: Tenant,
    linked_account_id: str,
    app: App,
    values: dict[str, str],
    update_connection_id: uuid.UUID | None,
    field_prefix: str = "",
) -> Connection:
    """Connect the account to a key-based app with the values its connection fields ask for,
    once the app accepted them, and announce it (``connection.created``/``updated``): a new
    connection, or ``update_connection_id`` re-authorised. 422 naming a missing, unknown or
    malformed field, 422 ``credentials_rejected`` (at the secret field) when the app refuses
    them, 502 ``bad_gateway`` when it cannot be asked, 404 when the account (or the connection to
    update) is gone. Errors name a field as ``{field_prefix}{key}``."""
    if app.auth_kind == "oauth2":
        raise invalid("app", f"{app.slug} uses OAuth2: the user connects it in the Link flow")
    known = {f.key for f in app.fields}
    unknown = sorted(k for k in values if k not in known)
    if unknown:
        name = field_prefix + unknown[0]
        raise invalid(name, f"{name}: {app.name} has no such field")
    problems = check_fields(app, values)
    if problems:
        key, message = next(iter(problems.items()))
        raise invalid(field_prefix + key, f"{field_prefix}{key}: {message}")
    public = {f.key: values[f.key].strip() for f in app.public_fields if values.get(f.key)}
    secret = {f.key: values[f.key].strip() for f in app.fields if f.secret and values.get(f.key)}
    credentials = {"kind": app.auth_kind, **secret}
    try:
        await verify_credentials(
            http=http, app=app, credentials=credentials, fields=public, base_url=base_url
        )
    except AppUnreachable as exc:
        raise ApiError(ErrorCode.BAD_GATEWAY, exc.message) from None
    except VerificationFailed as exc:  # the message names the app, never the credentials
        shown_at = field_prefix + next((f.key for f in app.fields if f.secret), "values")
        raise ApiError(
            ErrorCode.CREDENTIALS_REJECTED, f"{shown_at}: {exc.message}", field=shown_at
        ) from None
    plaintext = orjson.dumps(credentials)
    try:
        connection = await store.save_authorised_connection(
            pool,
            tenant=tenant,
            linked_account_id=linked_account_id,
            app=app.slug,
            seal=lambda row_id: keyring.seal(plaintext, bound_to=connection_binding(row_id)),
            expires_at=None,
            provider_account_id=None,
            fields=public,
            update_connection_id=update_connection_id,
        )
    except asyncpg.ForeignKeyViolationError:  # the linked account does not exist (any more)
        raise not_found("linked account", field="linked_account_id") from None
    if connection is None:
        raise not_found("connection")
    await webhooks.notify_connection_saved(pool=pool, redis=redis, connection=connection)
    return connection
