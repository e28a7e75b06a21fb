"""A gateway whose catalog points every third-party app at the generic fake OAuth provider
(tests/fakes/providers.py), as an operator's ``LINKPORT_CATALOG_OVERRIDES`` would, and the
steps OAuth tests share: enabling an app with the tenant's own OAuth client, the fields an
end user would type, reading and expiring a connection's stored credentials."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.gateway.appkeys import RESOURCES
from shared.clients import store as clients
from shared.connections.credentials import (
    CredentialSource,
    connection_binding,
    current_credentials,
)
from shared.connectors.catalog import App, load_catalog
from shared.infra import db
from shared.infra.crypto import Sealed
from shared.infra.outbound import parse_networks
from shared.link.flow import CALLBACK_PATH
from tests.fakes.providers import FakeProviders, rewrite_catalog
from tests.fakes.server import StartFake
from tests.helpers import Api, AppFactory, Client

REDIRECT = "https://app.acme.test/connected"


@dataclass
class OAuthWorld:
    """The gateway, the fake providers behind every app, and a tenant (Acme) using them."""

    http: Client
    fake: FakeProviders
    acme: Api

    @property
    def callback_url(self) -> str:
        """Linkport's OAuth redirect URI (registered at the fake)."""
        return str(self.http.make_url(CALLBACK_PATH))

    def app(self, slug: str) -> App:
        """The app as the gateway sees it (hosts rewritten to the fake)."""
        app = self.http.app[RESOURCES].catalog.get(slug)
        assert app is not None
        return app


def third_party_oauth_apps() -> list[str]:
    """Every OAuth2 app of the shipped catalog whose provider is a third party."""
    return sorted(
        app.slug
        for app in load_catalog()
        if app.oauth is not None and not app.oauth.authorize_url.startswith("{base_url}")
    )


async def oauth_world(
    *,
    make_client: AppFactory,
    pool: db.Pool,
    start_fake: StartFake,
    folder: Path,
    extra_apps: dict[str, str] | None = None,
) -> OAuthWorld:
    """Start the fake and a gateway whose catalog overrides point at it. ``extra_apps``:
    test-only catalog files (slug → TOML text, hosts anywhere: they are rewritten too)."""
    source, rewritten = folder / "source", folder / "rewritten"
    source.mkdir()
    rewritten.mkdir()
    for slug, text in (extra_apps or {}).items():
        (source / f"{slug}.toml").write_text(text)
    catalog = load_catalog(str(source))
    fake = await start_fake(FakeProviders(catalog))
    http = await make_client(
        catalog_overrides=str(rewrite_catalog(catalog, fake.url, rewritten)),
        outbound_allowed_networks=parse_networks("127.0.0.0/8"),
    )
    fake.redirect_uris = [str(http.make_url(CALLBACK_PATH))]
    acme = await Api.for_credentials(
        http, pool, await clients.create_client(pool, name="Acme", environment="test")
    )
    settings = await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [REDIRECT]})
    assert settings.status == 200, settings.body
    return OAuthWorld(http, fake, acme)


async def enable(world: OAuthWorld, slug: str) -> None:
    """The tenant enables ``slug`` with its OAuth client registered at the fake."""
    reply = await world.acme.call(
        "PUT",
        f"/v1/apps/{slug}",
        {
            "enabled": True,
            "oauth_client_id": world.fake.client_id,
            "oauth_client_secret": world.fake.client_secret,
        },
    )
    assert reply.status == 200, reply.body


def typed_fields(world: OAuthWorld, app: App) -> dict[str, str]:
    """What an end user types into the app's public fields: the fake's API root for URLs
    (an instance or FHIR base URL), a plain name otherwise."""
    return {
        f.key: f"{world.fake.url}/{app.slug}/api" if f.type == "url" else "acme"
        for f in app.public_fields
    }


async def stored_credentials(world: OAuthWorld, connection_id: str) -> dict[str, Any]:
    """A connection's decrypted credentials, as stored."""
    res = world.http.app[RESOURCES]
    row = await res.pool.fetchrow(
        "SELECT * FROM connections WHERE id = $1", uuid.UUID(connection_id)
    )
    assert row is not None
    plaintext = res.keyring.open(
        Sealed(row["credentials"], row["credentials_nonce"], row["credentials_key_id"]),
        bound_to=connection_binding(row["id"]),
    )
    creds: dict[str, Any] = orjson.loads(plaintext)
    return creds


async def expire_stored_token(world: OAuthWorld, connection_id: str) -> None:
    """Make the connection's access token look expired (Linkport refreshes before use)."""
    res = world.http.app[RESOURCES]
    creds = await stored_credentials(world, connection_id)
    creds["expires_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    binding = connection_binding(uuid.UUID(connection_id))
    sealed = res.keyring.seal(orjson.dumps(creds), bound_to=binding)
    await res.pool.execute(
        "UPDATE connections SET credentials = $2, credentials_nonce = $3 WHERE id = $1",
        uuid.UUID(connection_id),
        sealed.ciphertext,
        sealed.nonce,
    )


async def credentials_for_use(world: OAuthWorld, connection_id: str) -> dict[str, Any]:
    """The credentials a worker would use now (refreshed first when expired)."""
    res = world.http.app[RESOURCES]
    source = CredentialSource(res.pool, res.redis, res.keyring, res.catalog, res.http, res.settings)
    return await current_credentials(
        source, tenant=world.acme.tenant, connection_id=uuid.UUID(connection_id)
    )
