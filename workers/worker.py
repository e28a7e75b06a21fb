"""The arq worker: its settings, startup/shutdown, and the jobs it runs (ids in, rows out)."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime
from typing import Any

import structlog
from arq import Worker, cron

from shared.config import Settings
from shared.connections.credentials import CredentialSource
from shared.executions import jobs as execution_jobs
from shared.executions.service import Runner
from shared.infra import queue as jobs
from shared.infra import redis_keys
from shared.infra.queue import job_deserializer, job_serializer
from shared.resources import Resources, open_resources, redis_settings

log = structlog.get_logger(logger_name="linkport.worker")

Ctx = dict[str, Any]


def worker_name() -> str:
    """This worker process's name in heartbeats: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def startup(ctx: Ctx) -> None:
    """Open Postgres, Redis and HTTP clients with the settings in ``ctx`` (or from the env)."""
    settings: Settings = ctx.get("settings") or Settings()
    ctx["settings"] = settings
    resources = await open_resources(settings)
    ctx["resources"] = resources
    ctx["runner"] = runner(resources)
    await record_heartbeat(ctx)
    log.info("worker_started", name=worker_name())


async def shutdown(ctx: Ctx) -> None:
    """Close what ``startup`` opened and withdraw this worker's heartbeat."""
    resources: Resources | None = ctx.get("resources")
    if resources is not None:
        await resources.redis.delete(redis_keys.worker_heartbeat(worker_name()))
        await resources.close()
    log.info("worker_stopped", name=worker_name())


async def record_heartbeat(ctx: Ctx) -> None:
    """Housekeeping cron: say this worker is alive (the key expires if it dies)."""
    resources: Resources = ctx["resources"]
    await resources.redis.set(
        redis_keys.worker_heartbeat(worker_name()),
        datetime.now(UTC).isoformat(),
        ex=resources.settings.worker_heartbeat_ttl,
    )


def runner(resources: Resources) -> Runner:
    """What the execution jobs use, from the process's resources."""
    return Runner(
        pool=resources.pool,
        redis=resources.redis,
        credentials=CredentialSource(
            pool=resources.pool,
            redis=resources.redis,
            keyring=resources.keyring,
            catalog=resources.catalog,
            http=resources.http,
            settings=resources.settings,
        ),
        settings=resources.settings,
    )


class LinkportWorker(Worker):
    """arq's worker with a shutdown that cannot fail on a job cancelled as it finished.

    On SIGTERM arq cancels running jobs; one cancelled while it writes its own result (inside
    ``asyncio.shield``) re-raises ``CancelledError`` from ``close()``'s ``gather``, so the
    process exited 1 with a traceback although nothing was lost (the rows hold every outcome).
    """

    async def close(self) -> None:
        """Wait for every job task to settle, whatever it raised, then close as arq does."""
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        await super().close()


def create_worker(settings: Settings | None = None, **overrides: Any) -> Worker:
    """An arq worker configured from ``settings``; tests pass ``burst=True`` and friends."""
    settings = settings or Settings()
    every = settings.sweep_interval
    options: dict[str, Any] = {
        "functions": [
            _named(execution_jobs.fan_out_events, jobs.FAN_OUT),
            _named(execution_jobs.run_one_execution, jobs.RUN_EXECUTION),
        ],
        "cron_jobs": [
            cron(
                record_heartbeat, second=set(range(0, 60, 10)), run_at_startup=False, unique=False
            ),
            cron(
                execution_jobs.sweep,
                name="cron:sweep",
                second=set(range(0, 60, every)),
                run_at_startup=True,
            ),
        ],
        "redis_settings": redis_settings(settings),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_serializer": job_serializer,
        "job_deserializer": job_deserializer,
        # arq's defaults (0.5 s poll, 10 jobs) cap a worker near 200 jobs/s; see Settings.
        "poll_delay": settings.worker_poll_delay,
        "max_jobs": settings.worker_max_jobs,
        # Rows hold every outcome; no result keys, so a job id can be used again once done.
        "keep_result": 0,
        "job_timeout": settings.execution_lease,
        "max_tries": 1000,  # retries are scheduled from Postgres rows, not by arq
        "handle_signals": True,
    }
    options.update(overrides)
    return LinkportWorker(**options)


def _named(function: Any, name: str) -> Any:
    from arq.worker import func

    return func(function, name=name)
