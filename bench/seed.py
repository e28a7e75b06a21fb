"""What the benchmark works on: a fresh database with a client, accounts with active
connections (credentials sealed as the Link flow seals them), an event definition and a
workflow calling the fake app; and single-use tokens minted in bulk before a run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from redis.asyncio import Redis

from shared.clients import store as clients_store
from shared.config import Settings
from shared.connections.credentials import connection_binding
from shared.events import store as events_store
from shared.events.definitions import infer_schema
from shared.grants.models import PublicGrant
from shared.infra import db, redis_keys, tokens
from shared.infra.crypto import Keyring
from shared.tenancy import Tenant

ORG = "org_bench"
EVENT = "contact.created"
SAMPLE = {"email": "ada@example.com", "first": "Ada", "last": "Lovelace", "seq": 0}


@dataclass(frozen=True)
class Seeded:
    """The tenant and what the load uses."""

    tenant: Tenant
    client_id: str
    client_secret: str
    api_key: str
    accounts: int
    connections: list[uuid.UUID]
    account_created_at: datetime


def account(n: int) -> str:
    """The n-th seeded linked account id."""
    return f"user_{n}"


async def seed(settings: Settings, *, accounts: int, fake_app_url: str) -> Seeded:
    """Create the client, ``accounts`` accounts each with an active sandbox connection, the
    ``contact.created`` definition, and a workflow (on for every account) whose one step
    POSTs to the fake app."""
    keyring = Keyring.from_settings(settings)
    pool = await db.create_pool(settings)
    try:
        issued = await clients_store.create_client(pool, name="Bench", environment="test")
        client_uuid = await pool.fetchval(
            "SELECT client_id FROM environments WHERE public_client_id = $1", issued.client_id
        )
        tenant = Tenant(client_uuid, "test")
        created_at = datetime.now(UTC)
        await pool.execute(
            "INSERT INTO orgs (client_id, environment, org_id) VALUES ($1, $2, $3)",
            client_uuid,
            "test",
            ORG,
        )
        await pool.executemany(
            """INSERT INTO linked_accounts (client_id, environment, linked_account_id, name, org_id,
                                            created_at) VALUES ($1, 'test', $2, $3, $4, $5)""",
            [(client_uuid, account(n), f"Account {n}", ORG, created_at) for n in range(accounts)],
        )
        connection_ids = [uuid.uuid4() for _ in range(accounts)]
        rows = []
        for n, connection_id in enumerate(connection_ids):
            creds = {"access_token": f"bench-access-{n}", "token_type": "Bearer"}
            sealed = keyring.seal(orjson.dumps(creds), bound_to=connection_binding(connection_id))
            rows.append(
                (
                    connection_id,
                    client_uuid,
                    account(n),
                    sealed.ciphertext,
                    sealed.nonce,
                    sealed.key_id,
                )
            )
        await pool.executemany(
            """INSERT INTO connections (id, client_id, environment, linked_account_id, app, status,
                                        credentials, credentials_nonce, credentials_key_id)
               VALUES ($1, $2, 'test', $3, 'sandbox', 'active', $4, $5, $6)""",
            rows,
        )
        await events_store.add_definition_version(
            pool, tenant=tenant, name=EVENT, schema=infer_schema(SAMPLE)
        )
    finally:
        await pool.close()
    return Seeded(
        tenant,
        issued.client_id,
        issued.client_secret,
        issued.api_key,
        accounts,
        connection_ids,
        created_at,
    )


def workflow_definition(fake_app_url: str) -> dict[str, object]:
    """One HTTP step to the fake app, for every account (``POST /v1/workflows``)."""
    return {
        "name": "Send the contact to the fake app",
        "app": "sandbox",
        "trigger": {"event": EVENT},
        "default_enabled": True,
        "steps": [
            {
                "id": "post",
                "action": "http.request",
                "input": {
                    "url": fake_app_url + "/hook",
                    "json": {"seq": "{{ event.seq }}", "email": "{{ event.email }}"},
                },
            }
        ],
    }


def write_lines(path: Path, lines: list[bytes]) -> Path:
    """One JSON document per line, as wrk's script reads them."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def mint_public_tokens(redis: Redis, seeded: Seeded, count: int) -> list[str]:
    """``count`` live public tokens over the seeded connections, stored as the Link flow
    stores them (one pipeline, not ``count`` round trips)."""
    minted = []
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            i = n % seeded.accounts
            grant = PublicGrant(
                client_id=seeded.tenant.client_id,
                environment="test",
                linked_account_id=account(i),
                account_created_at=seeded.account_created_at,
                expires_at=expires_at,
                connection_id=seeded.connections[i],
                app="sandbox",
                org_id=ORG,
            )
            token = tokens.mint(tokens.TokenKind.PUBLIC.value)
            pipe.set(
                redis_keys.token(tokens.TokenKind.PUBLIC, tokens.hex_digest(token)),
                grant.model_dump_json(),
                ex=3600,
            )
            minted.append(token)
        await pipe.execute()
    return minted


async def mint_baseline_tokens(redis: Redis, seeded: Seeded, count: int) -> list[str]:
    """``count`` tokens for the baseline's ``/exchange`` (``GETDEL bl:pt:{token}``)."""
    minted = []
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(count):
            token = tokens.mint("bl_")
            pipe.set("bl:pt:" + token, str(seeded.connections[n % seeded.accounts]), ex=3600)
            minted.append(token)
        await pipe.execute()
    return minted
