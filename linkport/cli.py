"""The ``linkport`` command: migrate, serve, worker, reencrypt, clients, dev."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from shared.clients import store as clients_store
from shared.config import Settings
from shared.infra import db, tracing
from shared.infra.crypto import EncryptionKeyError, Keyring
from shared.infra.logs import configure_logging
from shared.infra.migrate import migrate as apply_migrations
from shared.tenancy import ENVIRONMENTS

# Seconds a stopping gateway lets requests in flight finish (Kubernetes' default grace is 30).
SHUTDOWN_TIMEOUT = 20.0


def _settings(**overrides: Any) -> Settings:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _start_tracing(settings: Settings, component: str) -> None:
    """Export spans when ``LINKPORT_TRACING=otlp`` (refusing to start without the packages)."""
    try:
        tracing.configure(
            settings.tracing, service_name=settings.tracing_service_name, component=component
        )
    except tracing.TracingUnavailable as exc:
        raise click.ClickException(str(exc)) from None


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
    # Directly to PostgreSQL when the usual URL goes through PgBouncer (session advisory lock).
    url = settings.migration_database_url or settings.database_url
    applied = asyncio.run(apply_migrations(url, **db.connect_options(settings)))
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
    _start_tracing(settings, "gateway")
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
    tracing.shutdown()  # the spans still buffered go out


@main.command()
def worker() -> None:
    """Run an arq worker (jobs, crons, housekeeping)."""
    from workers.worker import create_worker

    settings = _settings()
    _require_keyring(settings)
    _start_tracing(settings, "worker")
    try:
        create_worker(settings).run()
    finally:
        tracing.shutdown()  # the spans still buffered go out


@main.command("worker-health")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the worker's heartbeat file [LINKPORT_WORKER_HEARTBEAT_FILE]",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="seconds after which a heartbeat is stale [LINKPORT_WORKER_HEARTBEAT_TTL]",
)
def worker_health(path: Path | None, max_age: float | None) -> None:
    """Exit 0 if this container's worker can work, else 1 (a Kubernetes exec probe).

    A worker rewrites its heartbeat file only when Postgres and Redis both answered it and
    its poll loop is turning, so the check needs neither server: it reads a local file.
    """
    settings = Settings()
    path = path or (
        Path(settings.worker_heartbeat_file) if settings.worker_heartbeat_file else None
    )
    if path is None:
        raise click.ClickException("no heartbeat file: LINKPORT_WORKER_HEARTBEAT_FILE is empty")
    limit = max_age if max_age is not None else float(settings.worker_heartbeat_ttl)
    try:
        beat: dict[str, Any] = json.loads(path.read_bytes())
        age = time.time() - float(beat["unix"])
        healthy = age <= limit and all(beat.get(k) is True for k in ("postgres", "redis"))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        click.echo(f"unhealthy: no readable heartbeat at {path} ({type(exc).__name__})", err=True)
        sys.exit(1)
    if not healthy:
        click.echo(
            f"unhealthy: last heartbeat {age:.1f}s ago (limit {limit:g}s) at {path}", err=True
        )
        sys.exit(1)
    click.echo(f"healthy: heartbeat {age:.1f}s ago (pid {beat.get('pid')})")


@main.command()
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True,
    help="rows re-encrypted per statement",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="only count the rows sealed with another key")
def reencrypt(batch_size: int, dry_run: bool) -> None:
    """Seal every connection's credentials and app secret anew with the current key.

    For key rotations (deploy/README.md): online, in batches, idempotent. Prints what it did
    and what is still sealed with another key; exits 1 if some row's key is not configured.
    """
    from linkport import reencrypt as rotation

    settings = _settings()
    try:
        keyring = Keyring.from_settings(settings)
    except EncryptionKeyError as exc:
        raise click.ClickException(str(exc)) from None

    async def run(pool: db.Pool) -> tuple[dict[str, rotation.Tally], dict[str, dict[str, int]]]:
        done = {} if dry_run else await rotation.reencrypt(pool, keyring, batch=batch_size)
        return done, await rotation.remaining(pool, keyring)

    done, left = asyncio.run(_with_pool(settings, run))
    click.echo(
        json.dumps(
            {
                "current_key_id": keyring.current_id,
                "reencrypted": {kind: tally.as_dict() for kind, tally in done.items()},
                "remaining": left,
            },
            indent=2,
        )
    )
    missing = sorted({key for tally in done.values() for key in tally.unreadable})
    if missing:
        raise click.ClickException(
            f"rows sealed with key ids {', '.join(missing)} could not be opened: list those keys "
            "in LINKPORT_ENCRYPTION_PREVIOUS_KEYS and run again"
        )


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
