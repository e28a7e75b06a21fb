"""The ``linkport`` command: migrate, serve, worker, clients, dev."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from shared.clients import store as clients_store
from shared.config import Settings
from shared.infra import db
from shared.infra.crypto import EncryptionKeyError, Keyring
from shared.infra.logs import configure_logging
from shared.infra.migrate import migrate as apply_migrations
from shared.tokens.service import ENVIRONMENTS

# Seconds a stopping gateway lets requests in flight finish (Kubernetes' default grace is 30).
SHUTDOWN_TIMEOUT = 20.0


def _settings(**overrides: Any) -> Settings:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _require_keyring(settings: Settings) -> None:
    """Refuse to start a process that would store or read credentials without a key."""
    try:
        Keyring.from_settings(settings)
    except EncryptionKeyError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Linkport: hosted Link flows, connections, app events and workflows."""


@main.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run from several processes at once)."""
    settings = _settings()
    applied = asyncio.run(apply_migrations(settings.database_url))
    click.echo(json.dumps({"applied": [f"{m.version:04d}_{m.name}" for m in applied]}))


@main.command()
@click.option("--host", default=None, help="interface to listen on [LINKPORT_HOST]")
@click.option("--port", type=int, default=None, help="port to listen on [LINKPORT_PORT]")
@click.option("--reuse-port", is_flag=True, help="share the port with other gateway processes")
def serve(host: str | None, port: int | None, reuse_port: bool) -> None:
    """Run the gateway (HTTP API and hosted pages); SIGTERM finishes requests in flight."""
    from services.gateway.app import create_app
    from services.gateway.app import serve as serve_app

    settings = _settings(host=host, port=port)
    _require_keyring(settings)
    asyncio.run(
        serve_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            reuse_port=reuse_port,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            on_listening=lambda: click.echo(
                f"linkport gateway listening on http://{settings.host}:{settings.port}"
            ),
        )
    )


@main.command()
def worker() -> None:
    """Run an arq worker (jobs, crons, housekeeping)."""
    from workers.worker import create_worker

    settings = _settings()
    _require_keyring(settings)
    create_worker(settings).run()


@main.group()
def clients() -> None:
    """Manage clients (tenants) and their credentials."""


async def _with_pool(settings: Settings, fn: Any) -> Any:
    pool = await db.create_pool(settings)
    try:
        return await fn(pool)
    finally:
        await pool.close()


@clients.command("create")
@click.option("--name", required=True, help="the client's display name")
@click.option(
    "--env", "environment", type=click.Choice(ENVIRONMENTS), default="test", show_default=True
)
def clients_create(name: str, environment: str) -> None:
    """Create a client; prints its client_id, client_secret and api_key once (stored hashed)."""
    settings = _settings()
    issued = asyncio.run(
        _with_pool(
            settings,
            lambda pool: clients_store.create_client(pool, name=name, environment=environment),  # type: ignore[arg-type]
        )
    )
    click.echo(json.dumps(issued.as_dict(), indent=2))


@clients.command("credentials")
@click.option("--client-id", required=True, help="any public client_id of the client (ci_…)")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), required=True)
def clients_credentials(client_id: str, environment: str) -> None:
    """Issue a new client secret and API key for one environment of an existing client."""
    settings = _settings()
    issued = asyncio.run(
        _with_pool(
            settings,
            lambda pool: clients_store.add_credentials(
                pool,
                public_client_id=client_id,
                environment=environment,  # type: ignore[arg-type]
            ),
        )
    )
    if issued is None:
        raise click.ClickException(f"no client with client_id {client_id}")
    click.echo(json.dumps(issued.as_dict(), indent=2))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".linkport"),
    show_default=True,
    help="where the embedded PostgreSQL and Redis keep their files",
)
def dev(host: str, port: int, data_dir: Path) -> None:
    """Run everything locally: embedded PostgreSQL and Redis unless LINKPORT_DATABASE_URL /
    LINKPORT_REDIS_URL are set, migrations, a ready-made client, the gateway and a worker."""
    from linkport.dev import run_dev

    sys.exit(run_dev(host=host, port=port, data_dir=data_dir))
