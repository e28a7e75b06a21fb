"""Per-client, per-environment app settings: enabled or not, and the client's own OAuth client."""

from __future__ import annotations

from shared.apps.models import AppSettings
from shared.infra.crypto import Sealed
from shared.infra.db import Pool, Record
from shared.tenancy import Tenant


def _settings(record: Record) -> AppSettings:
    sealed = None
    if record["oauth_client_secret"] is not None:
        sealed = Sealed(
            record["oauth_client_secret"],
            record["oauth_client_secret_nonce"],
            record["oauth_key_id"],
        )
    scopes = list(record["scopes"]) if record["scopes"] is not None else None
    return AppSettings(record["app"], record["enabled"], record["oauth_client_id"], sealed, scopes)


async def all_settings(pool: Pool, *, tenant: Tenant) -> dict[str, AppSettings]:
    """Every app's settings the tenant saved, by app slug."""
    rows = await pool.fetch(
        "SELECT * FROM app_settings WHERE client_id = $1 AND environment = $2",
        tenant.client_id,
        tenant.environment,
    )
    return {r["app"]: _settings(r) for r in rows}


async def save_settings(
    pool: Pool,
    *,
    tenant: Tenant,
    app: str,
    enabled: bool,
    oauth_client_id: str | None,
    oauth_client_secret: Sealed | None,
    scopes: list[str] | None,
) -> AppSettings:
    """Write one app's settings whole."""
    secret = oauth_client_secret
    row = await pool.fetchrow(
        """INSERT INTO app_settings (client_id, environment, app, enabled, oauth_client_id,
                                     oauth_client_secret, oauth_client_secret_nonce, oauth_key_id, scopes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (client_id, environment, app) DO UPDATE SET
               enabled = EXCLUDED.enabled,
               oauth_client_id = EXCLUDED.oauth_client_id,
               oauth_client_secret = EXCLUDED.oauth_client_secret,
               oauth_client_secret_nonce = EXCLUDED.oauth_client_secret_nonce,
               oauth_key_id = EXCLUDED.oauth_key_id,
               scopes = EXCLUDED.scopes,
               updated_at = now()
           RETURNING *""",
        tenant.client_id,
        tenant.environment,
        app,
        enabled,
        oauth_client_id,
        secret.ciphertext if secret else None,
        secret.nonce if secret else None,
        secret.key_id if secret else None,
        scopes,
    )
    assert row is not None
    return _settings(row)
