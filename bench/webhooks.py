"""``python -m bench.webhooks``: webhook deliveries per second through one worker.

Announces N notifications for a tenant with E endpoints on the fake app (loopback, answering
204 at once), so N x E deliveries are durable and queued, then starts one Linkport worker
(its real CLI, production settings) and times the attempts it makes, from the first one's
start to the last one's end, as recorded in ``webhook_attempts``. Needs the local PostgreSQL
and Redis (as ``make bench`` does).
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from pathlib import Path

import click
import orjson
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from bench.stack import Stack
from shared.clients import store as clients_store
from shared.infra import db
from shared.infra.crypto import Keyring
from shared.resources import outbound_client
from shared.tenancy import Tenant
from shared.webhooks import service as webhooks
from shared.webhooks.models import WebhookEventType
from shared.webhooks.schemas import WebhookEndpointCreate


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _webhook_stats(fake_app_url: str) -> dict[str, int]:
    with urllib.request.urlopen(fake_app_url + "/stats", timeout=5) as reply:  # noqa: S310 - loopback
        found: dict[str, int] = orjson.loads(reply.read())["webhooks"]
        return found


async def measure(stack: Stack, *, messages: int, endpoints: int) -> dict[str, float]:
    """Announce, start a worker, wait for every delivery to succeed; the figures."""
    settings = stack.settings()
    pool = await db.create_pool(settings)
    http = outbound_client(settings)
    try:
        issued = await clients_store.create_client(pool, name="Bench", environment="test")
        client_uuid = await pool.fetchval(
            "SELECT client_id FROM environments WHERE public_client_id = $1", issued.client_id
        )
        tenant = Tenant(client_uuid, "test")
        for n in range(endpoints):
            await webhooks.create_endpoint(
                pool=pool,
                keyring=Keyring.from_settings(settings),
                http=http,
                tenant=tenant,
                request=WebhookEndpointCreate(url=f"{stack.fake_app_url}/webhooks/e{n}"),
            )
        redis = ArqRedis(
            connection_pool=ConnectionPool.from_url(stack.redis_url),
            default_queue_name=settings.queue_name,
        )
        announced = time.monotonic()
        for n in range(messages):
            await webhooks.announce(
                pool=pool,
                redis=redis,
                tenant=tenant,
                event_type=WebhookEventType.CONNECTION_CREATED,
                data={"connection_id": f"c{n}", "linked_account_id": f"user_{n}", "app": "sandbox"},
            )
        announce_seconds = time.monotonic() - announced
        await redis.aclose(close_connection_pool=True)

        total = messages * endpoints
        worker = stack.worker(settings.base_url)
        deadline = time.monotonic() + 600
        # The worker's CPU from its first success on (its start-up is not delivery work).
        cpu_from: tuple[int, float] | None = None
        cpu_used, cpu_done = 0.0, 0
        while time.monotonic() < deadline:
            done = await pool.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
            )
            if worker.poll() is not None:
                break
            if cpu_from is None and done:
                cpu_from = (done, _cpu_seconds(worker.pid))
            elif cpu_from is not None:
                cpu_done, cpu_used = done - cpu_from[0], _cpu_seconds(worker.pid) - cpu_from[1]
            if done == total:
                break
            await asyncio.sleep(0.1)
        row = await pool.fetchrow(
            """SELECT count(*) AS attempts, count(*) FILTER (WHERE succeeded) AS ok,
                      extract(epoch FROM max(started_at + duration_ms * interval '1 millisecond')
                                         - min(started_at)) AS seconds,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
               FROM webhook_attempts"""
        )
        assert row is not None
        received = _webhook_stats(stack.fake_app_url)
        return {
            "messages": messages,
            "endpoints": endpoints,
            "deliveries": total,
            "succeeded": row["ok"],
            "attempts": row["attempts"],
            "seconds": round(float(row["seconds"]), 2),
            "deliveries_per_s": round(row["ok"] / float(row["seconds"]), 1),
            "attempt_p50_ms": round(row["p50"], 2),
            "attempt_p99_ms": round(row["p99"], 2),
            "worker_cpu_ms_per_delivery": round(1000 * cpu_used / cpu_done, 2) if cpu_done else 0,
            "announce_per_s": round(messages / announce_seconds, 1),
            "distinct_ids_received": sum(received.values()),
        }
    finally:
        await http.close()
        await pool.close()


@click.command()
@click.option("--messages", type=int, default=2000, show_default=True)
@click.option("--endpoints", type=int, default=4, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("bench/out"), show_default=True
)
def main(messages: int, endpoints: int, out: Path) -> None:
    """Measure webhook deliveries per second through one worker."""

    async def run() -> dict[str, float]:
        stack = Stack(out)
        await stack.open()
        try:
            return await measure(stack, messages=messages, endpoints=endpoints)
        finally:
            await stack.close()

    click.echo(orjson.dumps(asyncio.run(run()), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
