"""Connections made by an API call instead of the hosted page: a key-based app's fields,
checked and stored exactly as the hosted page's form would (secrets sealed to the row)."""

from __future__ import annotations

import uuid

import asyncpg
import orjson

from shared.connections import store
from shared.connections.credentials import connection_binding
from shared.connections.models import Connection
from shared.connectors.catalog import App
from shared.connectors.verify import VerificationFailed, verify_credentials
from shared.errors import invalid, not_found
from shared.infra.crypto import Keyring
from shared.infra.db import Pool
from shared.infra.outbound import OutboundClient
from shared.link.flow import check_fields
from shared.tenancy import Tenant


async def connect_with_credentials(
    *,
    pool: Pool,
    keyring: Keyring,
    http: OutboundClient,
    base_url: str,
    tenant: Tenant,
    linked_account_id: str,
    app: App,
    values: dict[str, str],
) -> Connection:
    """Connect (or re-connect) the account to a key-based app with the values its connection
    fields ask for, once the app accepts them: 422 naming a missing or malformed field, or
    the secret field the app refused; 404 when the account is gone."""
    if app.auth_kind == "oauth2":
        raise invalid("slug", f"{app.slug} uses OAuth2: the user connects it in the Link flow")
    problems = check_fields(app, values)
    if problems:
        key, message = next(iter(problems.items()))
        raise invalid(key, f"{key}: {message}")
    public = {f.key: values[f.key].strip() for f in app.public_fields if values.get(f.key)}
    secret = {f.key: values[f.key].strip() for f in app.fields if f.secret and values.get(f.key)}
    credentials = {"kind": app.auth_kind, **secret}
    try:
        await verify_credentials(
            http=http, app=app, credentials=credentials, fields=public, base_url=base_url
        )
    except VerificationFailed as exc:
        shown_at = next((f.key for f in app.fields if f.secret), "values")
        raise invalid(shown_at, f"{shown_at}: {exc.message}") from None
    plaintext = orjson.dumps(credentials)
    try:
        connection = await store.save_authorised_connection(
            pool,
            tenant=tenant,
            linked_account_id=linked_account_id,
            app=app.slug,
            connection_id=uuid.uuid4(),
            seal=lambda row_id: keyring.seal(plaintext, bound_to=connection_binding(row_id)),
            expires_at=None,
            provider_account_id=None,
            fields=public,
            update_only=False,
        )
    except asyncpg.ForeignKeyViolationError:  # the linked account does not exist (any more)
        raise not_found("linked account", field="linked_account_id") from None
    assert connection is not None  # update_only=False always writes
    return connection
