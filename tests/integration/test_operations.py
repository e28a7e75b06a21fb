"""Probes, the OpenAPI document, and migrations."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from services.gateway.appkeys import RESOURCES
from services.gateway.routes import all_endpoints
from shared.infra.migrate import available_migrations, migrate
from tests.helpers import Api, AppFactory, Client, with_database


async def test_healthz_and_readyz(http: Client) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    async with http.get("/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}


async def test_readyz_is_503_when_postgres_is_gone(make_client: AppFactory) -> None:
    client = await make_client()
    await client.app[RESOURCES].pool.close()
    async with client.get("/readyz") as response:
        assert response.status == 503
        assert await response.json() == {
            "status": "not_ready",
            "postgres": "unreachable",
            "redis": "ok",
        }


async def test_openapi_describes_every_route_from_the_models(http: Client) -> None:
    async with http.get("/openapi.json") as response:
        spec = await response.json()
    assert spec["openapi"].startswith("3.")
    for endpoint in all_endpoints():
        for path in (endpoint.path, *endpoint.aliases):
            assert endpoint.method.lower() in spec["paths"][path], path
    create = spec["paths"]["/link/token/create"]["post"]
    schema_name = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit(
        "/", 1
    )[1]
    schema = spec["components"]["schemas"][schema_name]
    assert set(schema["required"]) == {"user_id", "org_id"}
    assert {"emr_name", "emr_instance_domain", "access_token"} <= set(schema["properties"])
    listing = spec["paths"]["/v1/linked-accounts"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "cursor", "org_id"}
    assert spec["paths"]["/v2/link/token"]["post"]["security"][-1] == {"vitalApiKey": []}


async def test_openapi_needs_no_credentials_and_gateway_serves_it_unchanged(acme: Api) -> None:
    first = await acme.call("GET", "/openapi.json", auth="none")
    second = await acme.call("GET", "/openapi.json", auth="none")
    assert first.status == 200
    assert first.body == second.body


async def test_concurrent_migrations_apply_each_file_once(admin_url: str) -> None:
    name = f"linkport_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin_url, name)
        results = await asyncio.gather(*(migrate(url) for _ in range(4)))
        assert sorted(len(r) for r in results) == [0, 0, 0, len(available_migrations())]
        conn = await asyncpg.connect(url)
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        await conn.close()
        assert versions == [m.version for m in available_migrations()]
        assert await migrate(url) == []
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
