"""Applies the SQL files in ``shared/infra/migrations`` in order, once each, under an advisory lock."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg

# Any constant works; it only has to be the same in every process that migrates.
_ADVISORY_LOCK_KEY = 0x4C494E4B  # "LINK"


@dataclass(frozen=True)
class Migration:
    """One SQL file: ``0001_foundation.sql`` has version 1."""

    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with this package, in version order."""
    folder = resources.files("shared.infra") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


async def migrate(dsn: str, **options: Any) -> list[Migration]:
    """Apply pending migrations; safe to run from several processes at once. Returns those
    applied. ``options``: asyncpg's connection arguments (``db.connect_options``: TLS).

    The advisory lock is held by the session: connect to PostgreSQL directly, not through
    PgBouncer in transaction mode (which may run each statement on another server session)."""
    conn = await asyncpg.connect(dsn, **options)
    try:
        # A session-level lock: a second migrator waits here, then finds nothing left to do.
        await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version     integer PRIMARY KEY,
                   name        text NOT NULL,
                   applied_at  timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration)
        return applied
    finally:
        await conn.close()
