"""The raw baselines: only the essential I/O of each operation, nothing of Linkport.

``serve`` is a bare aiohttp app (same server, same Redis and Postgres clients and pool
sizes as the gateway) whose handlers do exactly what an operation cannot avoid:

- ``POST /token``: one Redis ``SET … EX`` (link-token and session-token create);
- ``POST /exchange``: one ``GETDEL`` plus one Postgres ``INSERT`` (public-token exchange);
- ``POST /event``: one ``INSERT`` plus one arq enqueue (durable event ingest);
- ``POST /batch``: one multi-row ``INSERT`` plus one arq enqueue (1,000 events at once).

``worker`` is an arq worker with Linkport's tuning running a no-op job that records when it
started, how long after its enqueue, and when it finished.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import click
import orjson
from aiohttp import web
from arq import Worker
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool

from shared.infra.queue import job_deserializer, job_serializer

NOOP = "noop"
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", ArqRedis)
TABLES = """
CREATE TABLE IF NOT EXISTS baseline_exchanges (token text PRIMARY KEY, grant_value text NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_events (id uuid PRIMARY KEY, payload jsonb NOT NULL);
"""


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


async def token(request: web.Request) -> web.Response:
    """One ``SET … EX``."""
    body = await request.read()
    value = secrets.token_urlsafe(24)
    await request.app[REDIS].set("bl:t:" + value, body, ex=1800)
    return _json({"success": True, "token": value})


async def exchange(request: web.Request) -> web.Response:
    """One ``GETDEL``, one ``INSERT``."""
    public_token = orjson.loads(await request.read())["public_token"]
    grant = await request.app[REDIS].getdel("bl:pt:" + public_token)
    if grant is None:
        return _json({"success": False}, 400)
    access_token = secrets.token_urlsafe(32)
    await request.app[POOL].execute(
        "INSERT INTO baseline_exchanges (token, grant_value) VALUES ($1, $2)",
        access_token,
        grant.decode(),
    )
    return _json({"success": True, "access_token": access_token})


async def event(request: web.Request) -> web.Response:
    """One ``INSERT``, one arq enqueue."""
    body = await request.read()
    event_id = uuid.uuid4()
    await request.app[POOL].execute(
        "INSERT INTO baseline_events (id, payload) VALUES ($1, $2::jsonb)", event_id, body.decode()
    )
    await request.app[REDIS].enqueue_job(NOOP, str(event_id), _job_id=str(event_id))
    return _json({"event_id": str(event_id), "status": "pending"}, 202)


async def batch(request: web.Request) -> web.Response:
    """One multi-row ``INSERT``, one arq enqueue."""
    items = orjson.loads(await request.read())["events"]
    ids = [uuid.uuid4() for _ in items]
    await request.app[POOL].execute(
        "INSERT INTO baseline_events (id, payload) SELECT * FROM unnest($1::uuid[], $2::jsonb[])",
        ids,
        [orjson.dumps(item).decode() for item in items],
    )
    await request.app[REDIS].enqueue_job(NOOP, str(ids[0]), _job_id=str(ids[0]))
    return _json({"data": [{"event_id": str(i), "status": "pending"} for i in ids]}, 202)


async def _jsonb_as_text(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=str, decoder=str, schema="pg_catalog")


async def _reset(_: asyncpg.Connection) -> None:
    """As the gateway's pool: no per-release reset round trip."""


def create_app(database_url: str, redis_url: str, queue: str) -> web.Application:
    """The baseline app (pool sizes as the gateway's defaults)."""

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            database_url, min_size=2, max_size=20, init=_jsonb_as_text, reset=_reset
        )
        assert pool is not None
        await pool.execute(TABLES)
        app[POOL] = pool
        app[REDIS] = ArqRedis(
            connection_pool=ConnectionPool.from_url(redis_url),
            job_serializer=job_serializer,
            job_deserializer=job_deserializer,
            default_queue_name=queue,
        )
        yield
        await app[REDIS].aclose(close_connection_pool=True)
        await pool.close()

    async def ready(_: web.Request) -> web.Response:
        return _json({"status": "ready"})

    app = web.Application()
    app.cleanup_ctx.append(resources)
    app.router.add_post("/token", token)
    app.router.add_post("/exchange", exchange)
    app.router.add_post("/event", event)
    app.router.add_post("/batch", batch)
    app.router.add_get("/readyz", ready)
    return app


class _Record:
    """What the no-op job saw: start times, enqueue-to-start latencies, finish times."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.start_latency: list[float] = []
        self.finished: list[float] = []

    async def noop(self, ctx: dict[str, Any], _: str) -> None:
        now = time.time()
        self.started.append(now)
        self.start_latency.append(now - ctx["enqueue_time"].timestamp())
        self.finished.append(time.time())

    def dump(self, path: Path) -> None:
        path.write_bytes(
            orjson.dumps(
                {
                    "started": self.started,
                    "start_latency": self.start_latency,
                    "finished": self.finished,
                }
            )
        )


@click.group()
def main() -> None:
    """Raw baselines for the benchmark."""


@main.command()
@click.option("--port", type=int, required=True)
@click.option("--database-url", required=True)
@click.option("--redis-url", required=True)
@click.option("--queue", required=True)
@click.option("--reuse-port", is_flag=True)
def serve(port: int, database_url: str, redis_url: str, queue: str, reuse_port: bool) -> None:
    """The baseline HTTP app."""
    web.run_app(
        create_app(database_url, redis_url, queue),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        reuse_port=reuse_port or None,
    )


@main.command()
@click.option("--redis-url", required=True)
@click.option("--queue", required=True)
@click.option("--poll-delay", type=float, required=True)
@click.option("--max-jobs", type=int, required=True)
@click.option("--stats", type=click.Path(path_type=Path), required=True)
@click.option("--burst", is_flag=True, help="exit once the queue is empty")
def worker(
    redis_url: str, queue: str, poll_delay: float, max_jobs: int, stats: Path, burst: bool
) -> None:
    """A worker running no-op jobs; writes what it saw to ``--stats`` when it stops."""
    record = _Record()
    asyncio.run(_run_worker(record, redis_url, queue, poll_delay, max_jobs, stats, burst))


async def _run_worker(
    record: _Record,
    redis_url: str,
    queue: str,
    poll_delay: float,
    max_jobs: int,
    stats: Path,
    burst: bool,
) -> None:
    from arq.worker import func

    arq_worker = Worker(
        functions=[func(record.noop, name=NOOP)],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        poll_delay=poll_delay,
        max_jobs=max_jobs,
        keep_result=0,
        burst=burst,
        handle_signals=False,
    )

    def finish() -> None:
        # Leave the poll loop after its current iteration, as a burst worker does.
        arq_worker.burst = True
        arq_worker.max_burst_jobs = 0

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, finish)
    try:
        await arq_worker.async_run()
    finally:
        await arq_worker.close()
        record.dump(stats)


if __name__ == "__main__":
    main()
