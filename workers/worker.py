"""The arq worker: its settings, startup/shutdown, and the jobs it runs (ids in, rows out).

A worker rides out Redis and Postgres outages instead of exiting (``LinkportWorker`` and its
``OutageGuard``): it backs off and tries again, takes no jobs while Postgres is down, logs one
warning when an outage starts and one line when it ends, and lets its heartbeat go stale
while it cannot work, so ``linkport worker-health`` (a Kubernetes exec probe) says so.
Nothing is lost meanwhile: rows in Postgres hold all work, and the sweeper re-enqueues due
rows whose jobs an outage took away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from arq import Worker, cron
from arq.connections import create_pool
from arq.constants import in_progress_key_prefix
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.utils import poll, timestamp_ms
from arq.worker import Retry
from redis.exceptions import ResponseError, WatchError

from shared.config import Settings
from shared.connections import jobs as connection_jobs
from shared.connections.credentials import CredentialSource
from shared.executions import jobs as execution_jobs
from shared.executions.service import Runner
from shared.infra import metrics, redis_keys
from shared.infra import queue as jobs
from shared.infra.outages import OUTAGE_ERRORS, REDIS_ERRORS, REDIS_OUTAGE_ERRORS
from shared.infra.queue import job_deserializer, job_serializer
from shared.resources import Resources, close_redis, open_resources, redis_settings
from shared.webhooks import jobs as webhook_jobs

log = structlog.get_logger(logger_name="linkport.worker")
arq_log = logging.getLogger("arq.worker")

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
    ctx["metrics_server"] = await metrics.serve_worker_metrics(settings, resources.redis)
    await record_heartbeat(ctx)
    log.info("worker_started", name=worker_name())


async def shutdown(ctx: Ctx) -> None:
    """Close what ``startup`` opened and withdraw this worker's heartbeat (as far as Redis
    answers: an outage is no reason to fail a shutdown)."""
    if ctx.get("metrics_server") is not None:
        await ctx.pop("metrics_server").cleanup()
    resources: Resources | None = ctx.get("resources")
    if resources is not None:
        settings = resources.settings
        with contextlib.suppress(*REDIS_OUTAGE_ERRORS):
            async with asyncio.timeout(settings.worker_dependency_timeout):
                await resources.redis.delete(redis_keys.worker_heartbeat(worker_name()))
        _remove_heartbeat_file(settings.worker_heartbeat_file)
        await resources.close()
    log.info("worker_stopped", name=worker_name())


async def record_heartbeat(ctx: Ctx) -> bool:
    """Say whether this worker can work; returns whether it can.

    It can when Postgres answers ``SELECT 1``, Redis takes the heartbeat, and the poll loop
    turns, each within the dependency timeout. Then the Redis key ``lp:hb:worker:{name}`` is
    written with a fresh TTL and the heartbeat file is replaced. When Postgres does not
    answer (or the loop is stuck), the key's content says so but its TTL runs on, and the
    file is left to go stale. Content (key and file): worker, pid, at (ISO), unix, postgres,
    redis, polling.
    """
    resources: Resources = ctx["resources"]
    settings = resources.settings
    guard: OutageGuard | None = ctx.get("guard")
    timeout = settings.worker_dependency_timeout
    try:
        async with asyncio.timeout(timeout):
            await resources.pool.fetchval("SELECT 1")
        postgres = True
        if guard is not None:
            guard.postgres.answered()
    except OUTAGE_ERRORS as exc:
        postgres = False
        if guard is not None:
            guard.postgres.failed(exc, source="heartbeat")
    # The poll loop turns, and is not backing off from Redis (when it is, Redis may answer
    # this write before the loop tries again: not healthy until it has).
    polling = guard is None or (guard.polling() and not guard.redis.down)
    healthy = postgres and polling
    now = datetime.now(UTC)
    beat = {
        "worker": worker_name(),
        "pid": os.getpid(),
        "at": now.isoformat(),
        "unix": now.timestamp(),
        "postgres": postgres,
        "redis": True,  # as far as this write goes: when Redis is down, nothing is written
        "polling": polling,
    }
    key = redis_keys.worker_heartbeat(worker_name())
    try:
        async with asyncio.timeout(timeout):
            if healthy:
                await resources.redis.set(key, orjson.dumps(beat), ex=settings.worker_heartbeat_ttl)
            else:  # the news, without extending the key's life (nor reviving an expired key)
                await resources.redis.set(key, orjson.dumps(beat), xx=True, keepttl=True)
    except REDIS_OUTAGE_ERRORS:
        return False
    if healthy and settings.worker_heartbeat_file:
        _write_heartbeat_file(settings.worker_heartbeat_file, beat, guard)
    return healthy


def _write_heartbeat_file(path: str, beat: dict[str, Any], guard: OutageGuard | None) -> None:
    """Replace the heartbeat file at once (a probe never reads half a file)."""
    target = Path(path)
    scratch = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        scratch.write_bytes(orjson.dumps(beat))
        scratch.replace(target)
    except OSError as exc:
        if guard is None or not guard.file_error_logged:
            log.warning("heartbeat_file_unwritable", path=path, error=str(exc))
        if guard is not None:
            guard.file_error_logged = True


def _remove_heartbeat_file(path: str) -> None:
    """Remove the heartbeat file if this process wrote it (a stopped worker is not healthy)."""
    if not path:
        return
    with contextlib.suppress(OSError, ValueError):
        target = Path(path)
        if orjson.loads(target.read_bytes()).get("pid") == os.getpid():
            target.unlink()


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


class Dependency:
    """Redis or Postgres as one worker sees it: up, or down since when.

    Logs one warning when an outage starts and one info line when it ends, whoever notices;
    while it is down, each failed attempt to reach it doubles the wait before the next one
    (from ``initial`` to ``cap`` seconds, with jitter so that workers do not retry in step).
    """

    def __init__(self, name: str, *, initial: float, cap: float) -> None:
        self.name = name
        self.initial = initial
        self.cap = cap
        self.down_since: float | None = None
        self.attempts = 0
        self.retry_at = 0.0

    @property
    def down(self) -> bool:
        """Whether the last word on it was a failure."""
        return self.down_since is not None

    def due(self) -> bool:
        """Whether it is time to try it again."""
        return time.monotonic() >= self.retry_at

    def delay(self) -> float:
        """The wait after ``attempts`` failed attempts."""
        ceiling = min(self.cap, self.initial * 2 ** max(self.attempts - 1, 0))
        return random.uniform(ceiling / 2, ceiling)

    def failed(self, exc: BaseException, *, attempt: bool = False, source: str = "") -> float:
        """Note that it did not answer ``source`` (who noticed: startup, poll, heartbeat, a
        job); ``attempt``: this was a try to reach it again (it backs off further). Returns
        how long to wait before the next try."""
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            log.warning(
                "worker_dependency_unreachable",
                dependency=self.name,
                source=source,
                error=type(exc).__name__,
                detail=str(exc)[:300],
            )
        elif not attempt:  # news of an outage already known: the retry plan stands
            return max(self.retry_at - now, 0.0) or self.delay()
        self.attempts += 1
        wait = self.delay()
        self.retry_at = now + wait
        return wait

    def answered(self) -> None:
        """Note that it answered: the outage, if any, is over."""
        if self.down_since is not None:
            log.info(
                "worker_dependency_back",
                dependency=self.name,
                outage_seconds=round(time.monotonic() - self.down_since, 3),
                attempts=self.attempts,
            )
        self.down_since = None
        self.attempts = 0
        self.retry_at = 0.0


class OutageGuard:
    """What a worker knows about its dependencies, shared by its poll loop, jobs and heartbeat."""

    def __init__(self, settings: Settings) -> None:
        backoff = {"initial": settings.worker_backoff_initial, "cap": settings.worker_backoff_max}
        self.redis = Dependency("redis", **backoff)
        self.postgres = Dependency("postgres", **backoff)
        self.timeout = settings.worker_dependency_timeout
        # A poll iteration (claims, crons, bookkeeping) takes milliseconds; one that takes
        # this long is stuck on a peer that stopped answering without closing the connection.
        self.poll_deadline = 5 * settings.worker_dependency_timeout
        self.stale_after = max(settings.worker_heartbeat_interval, self.poll_deadline)
        self.last_poll = time.monotonic()
        # Jobs whose bookkeeping Redis cut short: their in-progress keys, if Redis kept them,
        # would keep them from running again until they expire.
        self.orphans: set[str] = set()
        self.file_error_logged = False

    def dependency_of(self, exc: BaseException) -> Dependency:
        """Which dependency an outage error came from (redis-py wraps its socket errors, so a
        bare network error is Postgres's)."""
        return self.redis if isinstance(exc, REDIS_ERRORS) else self.postgres

    def failed(self, exc: BaseException, *, attempt: bool = False, source: str = "") -> float:
        """Note an outage error from wherever it came; returns the wait before trying again."""
        return self.dependency_of(exc).failed(exc, attempt=attempt, source=source)

    def polling(self) -> bool:
        """Whether the poll loop went round lately."""
        return time.monotonic() - self.last_poll <= self.stale_after


class LinkportWorker(Worker):
    """arq's worker, made to ride out Redis and Postgres outages.

    - Startup waits for Redis and Postgres, backing off, instead of exiting.
    - A poll that cannot reach Redis (arq's ``_poll_iteration`` raised and the process exited
      1) backs off and tries again; so does arq's bookkeeping of a job (``run_job``).
    - A job that meets an outage is retried later (arq's ``Retry``: it stays queued); a cron
      run is skipped (the next one comes). Either way the worker notes the outage, and takes
      no new jobs while Postgres is down; they wait in the queue instead of failing one by
      one. Postgres is asked again with backoff; when it answers, work goes on.
    - After an outage, crons are rescheduled from now (the sweeper runs at once) instead of
      catching up on every run missed.
    - A heartbeat beside the poll loop (``record_heartbeat``) says whether it can work.
    - Shutdown cannot fail on a job cancelled as it finished, nor on Redis being down.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings: Settings = self.ctx.get("settings") or Settings()
        self.ctx["settings"] = self.settings
        self.guard = OutageGuard(self.settings)
        self.ctx["guard"] = self.guard
        self._reschedule_crons = False
        # How long a started job counts as running elsewhere (its in-progress key): its own
        # function's time limit + 10 s, not arq's one figure for all (the longest, a webhook
        # delivery's), so that a job of a killed worker runs again as soon as it may.
        self._in_progress_ms = {
            name: int(((function.timeout_s or self.job_timeout_s or 0) + 10) * 1000)
            for name, function in self.functions.items()
        }
        for function in self.functions.values():
            function.coroutine = self._guarded(
                function.name, function.coroutine, is_cron=isinstance(function, CronJob)
            )

    def _guarded(self, name: str, coroutine: WorkerCoroutine, *, is_cron: bool) -> WorkerCoroutine:
        guard = self.guard
        source = f"job {name}"

        async def guarded(ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
            try:
                return await coroutine(ctx, *args, **kwargs)
            except OUTAGE_ERRORS as exc:
                wait = guard.failed(exc, source=source)
                if is_cron:
                    return None  # the next run does it (and the sweeper finds what was missed)
                raise Retry(defer=wait) from exc

        return guarded

    async def main(self) -> None:
        """arq's ``Worker.main``, with a startup that waits for its dependencies and the
        heartbeat beside the poll loop."""
        await self._start()
        heartbeat = asyncio.create_task(self._beat(), name="linkport-worker-heartbeat")
        try:
            async for _ in poll(self.poll_delay_s):
                await self._poll_iteration()
                if self.burst and await self._burst_done():
                    return
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _start(self) -> None:
        """Connect to Redis and run ``on_startup`` (Postgres, clients), until both answer."""
        arq_log.info(
            "Starting worker for %d functions: %s", len(self.functions), ", ".join(self.functions)
        )
        while True:
            try:
                if self._pool is None:
                    self._pool = await create_pool(
                        self.redis_settings,
                        job_deserializer=self.job_deserializer,
                        job_serializer=self.job_serializer,
                        default_queue_name=self.queue_name,
                        expires_extra_ms=self.expires_extra_ms,
                    )
                self.guard.redis.answered()
                self.ctx["redis"] = self.pool
                self.guard.last_poll = time.monotonic()  # the loop starts right after
                if self.on_startup:
                    await self.on_startup(self.ctx)
            except OUTAGE_ERRORS as exc:
                await asyncio.sleep(self.guard.failed(exc, attempt=True, source="startup"))
            else:
                self.guard.redis.answered()
                self.guard.postgres.answered()
                self.guard.last_poll = time.monotonic()
                return

    async def _burst_done(self) -> bool:
        """arq's burst mode: stop when the job budget is spent or the queue is empty."""
        if 0 <= self.max_burst_jobs <= self._jobs_started() or not await self.pool.zcard(
            self.queue_name
        ):
            await asyncio.gather(*self.tasks.values())
            return True
        return False

    async def _beat(self) -> None:
        """Every heartbeat interval, say whether this worker can work."""
        while True:
            await asyncio.sleep(self.settings.worker_heartbeat_interval)
            try:
                await record_heartbeat(self.ctx)
            except Exception:  # a heartbeat that died would fail every probe from now on
                log.exception("worker_heartbeat_failed")

    async def _poll_iteration(self) -> None:
        """arq's poll (claim due jobs, reap finished ones, crons), backing off while Redis
        does not answer, and asking Postgres again when it is due while it is down."""
        guard = self.guard
        if guard.postgres.down and guard.postgres.due():
            await self._ask_postgres()
        try:
            async with asyncio.timeout(guard.poll_deadline):
                await super()._poll_iteration()
        except REDIS_OUTAGE_ERRORS as exc:
            self._reschedule_crons = True
            await asyncio.sleep(guard.redis.failed(exc, attempt=True, source="poll"))
            return
        guard.redis.answered()
        guard.last_poll = time.monotonic()
        if guard.orphans:
            await self._release_orphans()

    async def _ask_postgres(self) -> None:
        resources: Resources | None = self.ctx.get("resources")
        if resources is None:
            return
        try:
            async with asyncio.timeout(self.guard.timeout):
                await resources.pool.fetchval("SELECT 1")
        except OUTAGE_ERRORS as exc:
            self.guard.postgres.failed(exc, attempt=True, source="probe")
        else:
            self.guard.postgres.answered()

    async def _release_orphans(self) -> None:
        """Let jobs whose bookkeeping an outage cut short run again now, not once their
        in-progress keys expire (running one twice is harmless: claims are in Postgres)."""
        orphans = {job_id for job_id in self.guard.orphans if job_id not in self.tasks}
        self.guard.orphans.clear()
        if not orphans:
            return
        try:
            await self.pool.delete(*(in_progress_key_prefix + job_id for job_id in orphans))
        except REDIS_OUTAGE_ERRORS:
            self.guard.orphans |= orphans  # next time

    async def heart_beat(self) -> None:
        """arq's per-poll housekeeping: its health key and enqueueing due crons, except while
        Postgres is down (they would pile up unstarted); after an outage crons start afresh."""
        if self.guard.postgres.down:
            self._reschedule_crons = True
            await self.record_health()
            return
        if self._reschedule_crons:
            for cron_job in self.cron_jobs:
                cron_job.next_run = None  # run_at_startup ones (the sweeper) run now
            self._reschedule_crons = False
        await super().heart_beat()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq 0.28's ``start_jobs`` with two changes: nothing starts while Postgres is down
        (jobs stay queued), and a job whose claim Redis cut short gives its slot back (arq
        kept it, so each outage could leave the worker a job slot short, forever)."""
        if self.guard.postgres.down:
            return
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            started: asyncio.Task[None] | None = None
            try:
                in_progress_key = in_progress_key_prefix + job_id
                async with self.pool.pipeline(transaction=True) as pipe:
                    await pipe.watch(in_progress_key)
                    ongoing_exists = await pipe.exists(in_progress_key)
                    score = await pipe.zscore(self.queue_name, job_id)
                    if ongoing_exists or not score or score > timestamp_ms():
                        # running elsewhere, done and dequeued, or deferred again by another
                        arq_log.debug("job %s already running elsewhere", job_id)
                        continue
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.psetex(in_progress_key, self._in_progress_for(job_id), b"1")
                    try:
                        await pipe.execute()
                    except (ResponseError, WatchError):
                        arq_log.debug("multi-exec error, job %s already started elsewhere", job_id)
                        continue
                    started = self.loop.create_task(self.run_job(job_id, int(score)))
                    started.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                    self.tasks[job_id] = started
            finally:
                if started is None:
                    self._release_sem_dec_counter_on_complete()

    def _in_progress_for(self, job_id: str) -> int:
        """Milliseconds the in-progress key of ``job_id`` lives (arq's figure when unknown)."""
        function = jobs.function_of(job_id)
        default = int(self.in_progress_timeout_s * 1000)
        return self._in_progress_ms.get(function, default) if function else default

    async def run_job(self, job_id: str, score: int) -> None:
        """arq's ``run_job``; when Redis fails during its bookkeeping, the outage is noted and
        the job left to run again (arq's error would end the poll loop, and the process)."""
        try:
            await super().run_job(job_id, score)
        except REDIS_OUTAGE_ERRORS as exc:
            self.guard.redis.failed(exc, source=f"job {job_id}")
            self.guard.orphans.add(job_id)
        except asyncio.CancelledError:
            # SIGTERM cancelled it in arq's bookkeeping, before or after the job itself ran
            # (arq hands a job back only from inside it): its in-progress key would keep every
            # other worker from it until the key expired (job timeout + 10 s). The job is still
            # queued; another worker takes it now (its rows make a second run harmless).
            with contextlib.suppress(*REDIS_OUTAGE_ERRORS):
                await asyncio.shield(self.pool.delete(in_progress_key_prefix + job_id))
            raise

    async def close(self) -> None:
        """Wait for every job task to settle, whatever it raised, then close as arq does.

        On SIGTERM arq cancels running jobs; one cancelled while it writes its own result
        (inside ``asyncio.shield``) re-raised ``CancelledError`` from arq's ``close()``, so the
        process exited 1 with a traceback although nothing was lost (the rows hold every
        outcome). And arq's close fails, skipping ``on_shutdown``, if Redis is down.
        """
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if self._pool is None:
            return
        with contextlib.suppress(*REDIS_OUTAGE_ERRORS):
            async with asyncio.timeout(self.guard.timeout):
                await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await close_redis(self.pool)  # and its sentinels' connections, if any
        self._pool = None


def create_worker(settings: Settings | None = None, **overrides: Any) -> Worker:
    """An arq worker configured from ``settings``; tests pass ``burst=True`` and friends."""
    settings = settings or Settings()
    every = settings.sweep_interval
    refresh_minute, refresh_second = connection_jobs.every(settings.refresh_scan_interval)
    options: dict[str, Any] = {
        "functions": [
            _named(execution_jobs.fan_out_events, jobs.FAN_OUT),
            _named(execution_jobs.run_one_execution, jobs.RUN_EXECUTION),
            webhook_jobs.deliver_function(settings),
        ],
        # The heartbeat is no cron: a cron is a job in the shared queue, which any worker
        # may take, late behind a backlog. It runs beside each worker's poll loop instead.
        "cron_jobs": [
            cron(
                execution_jobs.sweep,
                name="cron:sweep",
                second=set(range(0, 60, every)),
                run_at_startup=True,
            ),
            cron(
                webhook_jobs.sweep_webhooks,
                name="cron:webhook-sweep",
                second=set(range(0, 60, every)),
                run_at_startup=True,
            ),
            cron(webhook_jobs.prune_webhooks, name="cron:webhook-prune", minute=17, second=0),
            # Tokens near expiry are refreshed ahead of need; deleted ones revoked.
            cron(
                connection_jobs.refresh_tokens,
                name="cron:token-refresh",
                minute=refresh_minute,
                second=refresh_second,
                run_at_startup=True,
            ),
            cron(
                connection_jobs.revoke_tokens,
                name="cron:token-revocation",
                second=set(range(0, 60, every)),
                run_at_startup=True,
            ),
        ],
        # The worker retries connecting itself (with backoff, logging once), not arq.
        "redis_settings": dataclasses.replace(redis_settings(settings), conn_retries=0),
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
        # SIGTERM: stop taking jobs, let running ones finish this long, then cancel the rest.
        "job_completion_wait": settings.worker_job_completion_wait,
        "handle_signals": True,
    }
    options.update(overrides)
    return LinkportWorker(**options)


def _named(function: Any, name: str) -> Any:
    from arq.worker import func

    return func(function, name=name)
