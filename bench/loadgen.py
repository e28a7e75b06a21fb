"""Open-loop load at a fixed rate, from its own process: the n-th item leaves at start + n/rate
whether or not earlier ones were answered, so a slow server shows up as latency, not as a
politely reduced rate.

``events``: single app events to the gateway (each payload carries its ``seq``).
``jobs``: no-op arq jobs straight into the queue (the baseline of the same rate).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import click
import orjson
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from bench.baseline import NOOP
from shared.infra.queue import job_deserializer, job_serializer


async def _paced(
    count: int, rate: float, send: Callable[[int], Coroutine[Any, Any, bool]]
) -> dict[str, float]:
    """Call ``send(n)`` for n in range(count) at ``rate`` per second; count what failed and how
    far behind schedule the generator itself fell (it must not be the bottleneck)."""
    started = time.monotonic()
    tasks: list[asyncio.Task[bool]] = []
    worst_lag = 0.0
    for n in range(count):
        due = started + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        tasks.append(asyncio.create_task(send(n)))
    results = await asyncio.gather(*tasks)
    return {
        "sent": count,
        "failed": sum(1 for ok in results if not ok),
        "seconds": time.monotonic() - started,
        "worst_lag_ms": worst_lag * 1000,
    }


async def _events(
    url: str, api_key: str, accounts: int, count: int, rate: float
) -> dict[str, float]:
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def send(n: int) -> bool:
            body = {
                "event": "contact.created",
                "linked_account_id": f"user_{n % accounts}",
                "payload": {
                    "email": f"u{n}@example.com",
                    "first": "Ada",
                    "last": "Lovelace",
                    "seq": n,
                },
            }
            async with session.post(url + "/v1/events", data=orjson.dumps(body)) as reply:
                await reply.read()
                return reply.status == 202

        return await _paced(count, rate, send)


async def _jobs(redis_url: str, queue: str, count: int, rate: float) -> dict[str, float]:
    redis = ArqRedis(
        connection_pool=ConnectionPool.from_url(redis_url),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=queue,
    )
    try:

        async def send(n: int) -> bool:
            return await redis.enqueue_job(NOOP, str(n), _job_id=f"latency:{n}") is not None

        return await _paced(count, rate, send)
    finally:
        await redis.aclose(close_connection_pool=True)


@click.group()
def main() -> None:
    """Fixed-rate load generators."""


@main.command()
@click.option("--url", required=True)
@click.option("--api-key", required=True)
@click.option("--accounts", type=int, required=True)
@click.option("--count", type=int, required=True)
@click.option("--rate", type=float, required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def events(url: str, api_key: str, accounts: int, count: int, rate: float, out: Path) -> None:
    """POST ``count`` single events at ``rate`` per second."""
    out.write_text(json.dumps(asyncio.run(_events(url, api_key, accounts, count, rate))))


@main.command()
@click.option("--redis-url", required=True)
@click.option("--queue", required=True)
@click.option("--count", type=int, required=True)
@click.option("--rate", type=float, required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def jobs(redis_url: str, queue: str, count: int, rate: float, out: Path) -> None:
    """Enqueue ``count`` no-op jobs at ``rate`` per second."""
    out.write_text(json.dumps(asyncio.run(_jobs(redis_url, queue, count, rate))))


if __name__ == "__main__":
    main()
