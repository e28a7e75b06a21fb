"""``linkport reencrypt``: after a key rotation, every stored secret is sealed with the new
key, so the old key can be dropped; online, idempotent, and loud about rows it cannot open."""

from __future__ import annotations

import json

from services.gateway.appkeys import RESOURCES
from shared.apps import service as apps
from shared.config import Settings
from shared.infra import db
from shared.infra.crypto import Keyring, generate_key
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api
from tests.processes import linkport_env, run
from tests.workflow_fixtures import arranged, event_executions, run_queued, send, worker_settings

NEW_KEY = generate_key()


async def _key_ids(pool: db.Pool) -> tuple[set[str], set[str]]:
    connections = await pool.fetch(
        "SELECT credentials_key_id FROM connections WHERE credentials IS NOT NULL"
    )
    secrets = await pool.fetch(
        "SELECT oauth_key_id FROM app_settings WHERE oauth_client_secret IS NOT NULL"
    )
    return {r[0] for r in connections}, {r[0] for r in secrets}


async def test_reencrypt_moves_every_secret_to_the_current_key(acme: Api, pool: db.Pool) -> None:
    await arranged(acme)  # a sandbox connection: OAuth credentials sealed with k1
    configured = await acme.call(
        "PUT",
        "/v1/apps/hubspot",
        {"enabled": True, "oauth_client_id": "hub-id", "oauth_client_secret": "hub-secret"},
    )
    assert configured.status == 200, configured.body
    assert await _key_ids(pool) == ({"k1"}, {"k1"})

    settings: Settings = acme.http.app[RESOURCES].settings
    env = linkport_env(
        LINKPORT_DATABASE_URL=settings.database_url,
        LINKPORT_REDIS_URL=settings.redis_url,
        LINKPORT_QUEUE_NAME=TEST_QUEUE,
        LINKPORT_LOG_LEVEL="WARNING",
        # step 3 of a rotation: the new key is current, the old one still listed
        LINKPORT_ENCRYPTION_KEY=NEW_KEY,
        LINKPORT_ENCRYPTION_KEY_ID="k2",
        LINKPORT_ENCRYPTION_PREVIOUS_KEYS=f"k1:{TEST_ENCRYPTION_KEY}",
    )
    dry = run("reencrypt", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["remaining"] == {
        "connections": {"k1": 1},
        "app_secrets": {"k1": 1},
    }

    done = run("reencrypt", "--batch-size", "1", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["current_key_id"] == "k2"
    assert report["reencrypted"] == {
        "connections": {"reencrypted": 1, "changed_meanwhile": 0, "unreadable": {}},
        "app_secrets": {"reencrypted": 1, "changed_meanwhile": 0, "unreadable": {}},
    }
    assert report["remaining"] == {"connections": {}, "app_secrets": {}}
    assert await _key_ids(pool) == ({"k2"}, {"k2"})

    again = run("reencrypt", env=env)  # idempotent: nothing left to do
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["reencrypted"]["connections"]["reencrypted"] == 0

    # The old key dropped: everything still opens with the new one alone.
    only_new = worker_settings(
        acme, encryption_key=NEW_KEY, encryption_key_id="k2", encryption_previous_keys=""
    )
    event_id = await send(acme)
    await run_queued(only_new)
    (execution,) = await event_executions(acme, event_id)
    assert execution["status"] == "succeeded"  # the connection's credentials opened
    resources = acme.http.app[RESOURCES]
    client = await apps.oauth_client(
        pool=pool,
        keyring=Keyring.from_settings(only_new),
        settings=only_new,
        tenant=acme.tenant,
        app=resources.catalog.get("hubspot"),  # type: ignore[arg-type]
    )
    assert client is not None
    assert (client.client_id, client.client_secret) == ("hub-id", "hub-secret")


async def test_rows_under_an_unknown_key_are_reported_and_left(acme: Api, pool: db.Pool) -> None:
    await arranged(acme)
    await pool.execute("UPDATE connections SET credentials_key_id = 'k0'")  # a key long gone
    settings: Settings = acme.http.app[RESOURCES].settings
    env = linkport_env(
        LINKPORT_DATABASE_URL=settings.database_url,
        LINKPORT_REDIS_URL=settings.redis_url,
        LINKPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        LINKPORT_LOG_LEVEL="WARNING",
    )
    result = run("reencrypt", env=env)
    assert result.returncode == 1
    assert "k0" in result.stderr
    assert json.loads(result.stdout)["reencrypted"]["connections"]["unreadable"] == {"k0": 1}
    assert await _key_ids(pool) == ({"k0"}, set())
