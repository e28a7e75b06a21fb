"""The benchmark: every figure beside its raw baseline, measured in the same run.

HTTP figures alternate baseline and Linkport runs (wrk, one thread, same connections, same
bodies) and report the median of the rounds, so a noisy neighbour hits both sides. The
worker is stopped during HTTP figures on both sides (jobs are enqueued, none consumed),
so the gateway is measured alone on the 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from bench import seed as seeding
from bench.baseline import NOOP
from bench.profiler import Profile
from bench.report import Figure, Memory, Results, Side, median_side
from bench.seed import Seeded
from bench.stack import PYTHON, QUEUE, Group, Stack, rss_mb
from bench.wrk import WrkResult, run_wrk
from linkport.processes import stop
from shared.infra.queue import job_deserializer, job_serializer

Target = str  # "baseline" or "linkport"
TARGETS: tuple[Target, ...] = ("baseline", "linkport")


@dataclass(frozen=True)
class Options:
    """How long and how much: the defaults are the published run; ``smoke`` only checks it works."""

    seconds: int = 5
    warmup: int = 1
    rounds: int = 3
    connections: int = 32
    accounts: int = 1000
    executions: int = 10_000
    latency_seconds: float = 10.0
    memory_events: int = 100_000
    processes: tuple[int, ...] = (1, 2)
    profile: bool = False  # py-spy on the first measured Linkport run of each figure
    only: tuple[str, ...] = ()  # run just the figures whose names contain one of these

    def wants(self, name: str) -> bool:
        """Whether the figure called ``name`` is to be measured."""
        return not self.only or any(part in name for part in self.only)

    def smoke(self) -> Options:
        """A run of seconds, not minutes."""
        return replace(
            self,
            seconds=1,
            warmup=1,
            rounds=1,
            accounts=50,
            executions=300,
            latency_seconds=2.0,
            memory_events=2_000,
        )


class BenchFailed(Exception):
    """A run that cannot be trusted (failed requests, lost work)."""


@dataclass
class Run:
    """What the phases share."""

    options: Options
    stack: Stack
    seeded: Seeded
    pool: asyncpg.Pool
    redis: ArqRedis
    gateway: Group | None = None
    baseline: Group | None = None
    next_seq: int = 0

    # -- cleaning between runs -------------------------------------------------------------

    async def quiet(self) -> None:
        """Wait until no other session runs a query in the bench database and the event and
        job counts hold still: wrk stops at its deadline, but the servers finish the requests
        already in flight (aiohttp does not cancel them), and those must not leak into the
        next measurement."""

        async def settled() -> bool:
            before = await self._activity()
            await asyncio.sleep(0.1)
            return before == await self._activity() and before[0] == 0

        await self.wait_for("the servers to finish requests in flight", settled, within=60)

    async def _activity(self) -> tuple[int, int, int]:
        row = await self.pool.fetchrow(
            """SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                            AND state = 'active' AND pid <> pg_backend_pid()),
                      (SELECT count(*) FROM events) + (SELECT count(*) FROM baseline_events)"""
        )
        assert row is not None
        active, events = row
        jobs: int = await self.redis.zcard(QUEUE)
        return active, events, jobs

    async def clean(self) -> None:
        """Empty events (and what hangs off them), the baseline's tables, and the Redis db."""
        await self.quiet()
        await self.pool.execute(
            "TRUNCATE events, executions, step_runs, baseline_events, baseline_exchanges"
        )
        await self.redis.flushdb()
        await self.fake_app("POST", "/reset")

    async def fake_app(self, method: str, path: str) -> dict[str, object]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.stack.fake_app_url + path) as reply,
        ):
            reply.raise_for_status()
            return orjson.loads(await reply.read()) if reply.status == 200 else {}

    async def succeeded(self) -> int:
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM executions WHERE status = 'succeeded'"
        )
        return count

    async def wait_for(
        self, what: str, probe: Callable[[], Awaitable[bool]], within: float
    ) -> None:
        """Poll ``probe`` until true, or fail naming ``what``."""
        deadline = time.monotonic() + within
        while not await probe():
            if time.monotonic() > deadline:
                raise BenchFailed(f"timed out after {within:.0f}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def worker_ready(self) -> None:
        """A worker (either kind) has started polling: arq writes its health-check key."""
        await self.redis.delete(QUEUE + ":health-check")

        async def polling() -> bool:
            found: int = await self.redis.exists(QUEUE + ":health-check")
            return found > 0

        await self.wait_for("the worker to start", polling, 60)

    # -- request bodies --------------------------------------------------------------------

    def event_body(self, n: int) -> dict[str, object]:
        """The n-th event (payload ``seq`` = n, so the fake app can say when it arrived)."""
        return {
            "event": seeding.EVENT,
            "linked_account_id": seeding.account(n % self.seeded.accounts),
            "payload": {"email": f"u{n}@example.com", "first": "Ada", "last": "Lovelace", "seq": n},
        }

    async def post_events(self, count: int, *, batched: bool) -> None:
        """``count`` events through the gateway, in batches of 1,000 or one by one (32 in
        flight): setup, not measured."""
        assert self.gateway is not None
        url = self.gateway.url + ("/v1/events/batch" if batched else "/v1/events")
        first, end = self.next_seq, self.next_seq + count
        self.next_seq = end
        bodies: list[dict[str, object]] = (
            [
                {"events": [self.event_body(n) for n in range(start, min(end, start + 1000))]}
                for start in range(first, end, 1000)
            ]
            if batched
            else [self.event_body(n) for n in range(first, end)]
        )
        limit = asyncio.Semaphore(2 if batched else 32)
        async with aiohttp.ClientSession(headers={"X-API-Key": self.seeded.api_key}) as http:

            async def post(body: dict[str, object]) -> None:
                async with limit, http.post(url, json=body) as reply:
                    if reply.status != 202:
                        raise BenchFailed(f"{url} answered {reply.status}")

            await asyncio.gather(*(post(body) for body in bodies))


@dataclass(frozen=True)
class HttpOp:
    """One HTTP figure: the same bodies to Linkport's route and to the baseline's."""

    name: str
    linkport_path: str
    baseline_path: str
    goal: float | None
    headers: Callable[[Seeded], dict[str, str]]
    bodies: Callable[[Run, Target, int], Awaitable[list[bytes]]]
    per_request: int = 1
    connections: int | None = None
    unit: str = "req/s"


def _client_secret_headers(s: Seeded) -> dict[str, str]:
    return {"client_id": s.client_id, "client_secret": s.client_secret}


def _api_key_headers(s: Seeded) -> dict[str, str]:
    return {"X-API-Key": s.api_key}


async def _link_token_bodies(run: Run, _: Target, __: int) -> list[bytes]:
    return [
        orjson.dumps({"user_id": seeding.account(n), "org_id": seeding.ORG})
        for n in range(run.seeded.accounts)
    ]


async def _session_bodies(run: Run, _: Target, __: int) -> list[bytes]:
    return [
        orjson.dumps({"linked_account_id": seeding.account(n)}) for n in range(run.seeded.accounts)
    ]


async def _exchange_bodies(run: Run, target: Target, budget: int) -> list[bytes]:
    mint = seeding.mint_public_tokens if target == "linkport" else seeding.mint_baseline_tokens
    minted = await mint(run.redis, run.seeded, budget)
    return [orjson.dumps({"public_token": token}) for token in minted]


async def _event_bodies(run: Run, _: Target, __: int) -> list[bytes]:
    return [orjson.dumps(run.event_body(n)) for n in range(run.seeded.accounts)]


async def _batch_bodies(run: Run, _: Target, __: int) -> list[bytes]:
    return [orjson.dumps({"events": [run.event_body(n) for n in range(1000)]})]


HTTP_OPS = (
    HttpOp(
        "link-token create",
        "/link/token/create",
        "/token",
        0.8,
        _client_secret_headers,
        _link_token_bodies,
    ),
    HttpOp(
        "public-token exchange",
        "/link/token/exchange",
        "/exchange",
        0.8,
        _client_secret_headers,
        _exchange_bodies,
    ),
    HttpOp(
        "session-token create",
        "/v1/session-tokens",
        "/token",
        0.8,
        _api_key_headers,
        _session_bodies,
    ),
    HttpOp("event ingest (durable)", "/v1/events", "/event", 0.7, _api_key_headers, _event_bodies),
    HttpOp(
        "batch ingest (1,000 per request)",
        "/v1/events/batch",
        "/batch",
        None,
        _api_key_headers,
        _batch_bodies,
        per_request=1000,
        connections=4,
        unit="events/s",
    ),
)


def _profile(run: Run, name: str, pid: int) -> Profile | None:
    if not run.options.profile:
        return None
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return Profile(pid, run.stack.out / f"profile-{slug}.txt")


async def _wrk(
    run: Run, op: HttpOp, target: Target, seconds: int, rate_guess: float, *, profile: bool = False
) -> WrkResult:
    assert run.gateway is not None
    assert run.baseline is not None
    url = (
        (run.gateway.url + op.linkport_path)
        if target == "linkport"
        else (run.baseline.url + op.baseline_path)
    )
    # Single-use tokens: enough for the run at the rate seen in warm-up, with room to spare.
    budget = int(rate_guess * seconds * 1.6) + 2000
    bodies = seeding.write_lines(
        run.stack.out / f"bodies-{target}.jsonl", await op.bodies(run, target, budget)
    )
    profiler = _profile(run, op.name, run.gateway.processes[0].pid) if profile else None
    result = await asyncio.to_thread(
        run_wrk,
        url,
        bodies=bodies,
        headers=op.headers(run.seeded),
        seconds=seconds,
        connections=op.connections or run.options.connections,
    )
    if profiler is not None:
        profiler.stop()
    await run.clean()
    if result.failures:
        raise BenchFailed(
            f"{op.name} ({target}): {result.failures} of {result.requests} requests failed; "
            f"see {run.stack.out}"
        )
    return result


async def measure_http(run: Run, op: HttpOp, processes: int) -> Figure:
    """Warm both sides up, then alternate them for the configured rounds."""
    seen = {target: 10_000.0 for target in TARGETS}
    for target in TARGETS:
        seen[target] = (await _wrk(run, op, target, run.options.warmup, seen[target])).per_second
    sides: dict[Target, list[Side]] = {target: [] for target in TARGETS}
    for round_ in range(run.options.rounds):
        for target in TARGETS:
            first_linkport = round_ == 0 and target == "linkport"
            result = await _wrk(
                run, op, target, run.options.seconds, seen[target], profile=first_linkport
            )
            sides[target].append(
                Side(result.per_second * op.per_request, result.p50_ms, result.p99_ms, op.unit)
            )
    suffix = "" if processes == 1 else f", {processes} processes"
    return Figure(
        f"{op.name}{suffix}",
        median_side(sides["linkport"]),
        median_side(sides["baseline"]),
        op.goal,
    )


async def _enqueue_noops(run: Run, count: int) -> None:
    for start in range(0, count, 200):
        await asyncio.gather(
            *(
                run.redis.enqueue_job(NOOP, str(n), _job_id=f"noop:{n}")
                for n in range(start, min(count, start + 200))
            )
        )


async def measure_executions(run: Run, *, batched: bool) -> Figure:
    """Peak executions/s through one worker (one HTTP step to the fake app), beside no-op
    arq jobs/s through one worker with the same tuning. The events wait, durable and
    enqueued, before the worker starts; sent one by one, each is a fan-out job of its own;
    sent in batches, a fan-out job takes ten."""
    assert run.gateway is not None
    count = run.options.executions
    how = "in batches of 1,000" if batched else "one by one"
    await run.clean()
    await run.post_events(count, batched=batched)
    worker = run.stack.worker(run.gateway.url)
    profiler = _profile(run, f"executions {how}", worker.pid)
    try:

        async def all_done() -> bool:
            return await run.succeeded() == count

        await run.wait_for(f"{count} executions", all_done, within=60 + count / 20)
    finally:
        if profiler is not None:
            profiler.stop()
        stop(worker)
    span = await run.pool.fetchval(
        "SELECT extract(epoch FROM max(finished_at) - min(finished_at))::float8 FROM executions"
    )
    linkport_rate = (count - 1) / max(span, 1e-9)
    calls = await run.fake_app("GET", "/stats")
    if calls["distinct"] != count:
        raise BenchFailed(f"the fake app saw {calls['distinct']} distinct calls, not {count}")

    await run.clean()
    await _enqueue_noops(run, count)
    stats_path = run.stack.out / "baseline-worker-throughput.json"
    baseline = run.stack.baseline_worker(stats_path, burst=True)
    await asyncio.to_thread(baseline.wait, 60 + count / 20)
    finished = orjson.loads(stats_path.read_bytes())["finished"]
    if len(finished) != count:
        raise BenchFailed(f"the baseline worker ran {len(finished)} jobs, not {count}")
    baseline_rate = (count - 1) / max(max(finished) - min(finished), 1e-9)
    return Figure(
        f"executions through 1 worker, events sent {how}",
        Side(linkport_rate, unit="exec/s"),
        Side(baseline_rate, unit="no-op jobs/s"),
        note=f"{count:,} each",
    )


def _percentiles(values_s: list[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values_s)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def _loadgen(run: Run, *args: str) -> dict[str, float]:
    out = run.stack.out / "loadgen.json"
    done = await asyncio.to_thread(
        subprocess.run,
        [PYTHON, "-m", "bench.loadgen", *args, "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchFailed(f"load generator failed: {done.stderr[-2000:]}")
    stats: dict[str, float] = orjson.loads(out.read_bytes())
    if stats["failed"]:
        raise BenchFailed(f"{stats['failed']:.0f} of {stats['sent']:.0f} sends failed")
    return stats


async def measure_latency(run: Run, peak: float) -> Figure:
    """Event accepted → outbound call at half of the peak rate, beside arq's own
    enqueue → start latency for no-op jobs at the same rate."""
    assert run.gateway is not None
    rate = max(1.0, round(peak / 2))
    count = max(20, int(rate * run.options.latency_seconds))
    await run.clean()
    worker = run.stack.worker(run.gateway.url)
    try:
        await run.worker_ready()
        sent = await _loadgen(
            run,
            "events",
            "--url",
            run.gateway.url,
            "--api-key",
            run.seeded.api_key,
            "--accounts",
            str(run.seeded.accounts),
            "--count",
            str(count),
            "--rate",
            str(rate),
        )

        async def all_done() -> bool:
            return await run.succeeded() == count

        await run.wait_for(f"{count} executions", all_done, within=120)
    finally:
        stop(worker)
    arrivals = (await run.fake_app("GET", "/stats?arrivals=1"))["arrivals"]
    assert isinstance(arrivals, dict)
    accepted = await run.pool.fetch(
        "SELECT (payload->>'seq')::int AS seq, extract(epoch FROM created_at)::float8 AS t FROM events"
    )
    latencies = [arrivals[str(r["seq"])] - r["t"] for r in accepted]
    p50, p99 = _percentiles(latencies)

    await run.clean()
    stats_path = run.stack.out / "baseline-worker-latency.json"
    baseline = run.stack.baseline_worker(stats_path, burst=False)
    try:
        await run.worker_ready()
        await _loadgen(
            run,
            "jobs",
            "--redis-url",
            run.stack.redis_url,
            "--queue",
            QUEUE,
            "--count",
            str(count),
            "--rate",
            str(rate),
        )

        async def drained() -> bool:
            waiting: int = await run.redis.zcard(QUEUE)
            return waiting == 0

        await run.wait_for("the baseline queue to drain", drained, within=120)
    finally:
        stop(baseline)
    raw = orjson.loads(stats_path.read_bytes())["start_latency"]
    if len(raw) != count:
        raise BenchFailed(f"the baseline worker ran {len(raw)} jobs, not {count}")
    b50, b99 = _percentiles(raw)
    return Figure(
        f"event accepted → outbound call, at {rate:,.0f}/s (half of peak)",
        Side(rate, p50, p99, "events/s"),
        Side(rate, b50, b99, "jobs/s"),
        compared=False,
        note=f"generator's worst lag {sent['worst_lag_ms']:.1f} ms",
    )


async def measure_memory(run: Run) -> list[Memory]:
    """RSS of a fresh gateway and worker, idle and after each half of ``memory_events``."""
    await run.clean()
    gateway = run.gateway
    assert gateway is not None
    worker = run.stack.worker(gateway.url)
    try:
        await run.worker_ready()
        total = run.options.memory_events
        points_gateway = {"idle": rss_mb(gateway.processes[0])}
        points_worker = {"idle": rss_mb(worker)}
        done = 0
        for part in (total // 2, total - total // 2):
            await run.post_events(part, batched=True)
            done += part

            async def caught_up(expected: int = done) -> bool:
                return await run.succeeded() == expected

            await run.wait_for(f"{done} executions", caught_up, within=120 + part / 20)
            label = f"after {done:,} events"
            points_gateway[label] = rss_mb(gateway.processes[0])
            points_worker[label] = rss_mb(worker)
    finally:
        stop(worker)
    return [
        Memory("gateway", points_gateway, bound_mb=40),
        Memory("worker", points_worker, bound_mb=40),
    ]


@contextlib.asynccontextmanager
async def _running(options: Options, out: Path) -> AsyncIterator[Run]:
    stack = Stack(out)
    try:
        await stack.open()
        settings = stack.settings()
        seeded = await seeding.seed(
            settings, accounts=options.accounts, fake_app_url=stack.fake_app_url
        )
        pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=2)
        assert pool is not None
        redis = ArqRedis(
            connection_pool=ConnectionPool.from_url(stack.redis_url),
            job_serializer=job_serializer,
            job_deserializer=job_deserializer,
            default_queue_name=QUEUE,
        )
        try:
            yield Run(options, stack, seeded, pool, redis)
        finally:
            await redis.aclose(close_connection_pool=True)
            await pool.close()
    finally:
        await stack.close()


async def _serve(run: Run, processes: int) -> None:
    if run.gateway is not None:
        run.gateway.stop()
    if run.baseline is not None:
        run.baseline.stop()
    run.gateway = await run.stack.gateways(processes)
    run.baseline = await run.stack.baselines(processes)


async def _define_workflow(run: Run) -> None:
    assert run.gateway is not None
    async with (
        aiohttp.ClientSession(headers={"X-API-Key": run.seeded.api_key}) as http,
        http.post(
            run.gateway.url + "/v1/workflows",
            json=seeding.workflow_definition(run.stack.fake_app_url),
        ) as reply,
    ):
        if reply.status != 201:
            raise BenchFailed(
                f"creating the workflow answered {reply.status}: {await reply.text()}"
            )


async def run_benchmark(options: Options, out: Path, progress: Callable[[str], None]) -> Results:
    """Every phase, in order; ``progress`` hears what is being measured."""
    results = Results()
    async with _running(options, out) as run:
        for processes in options.processes:
            await _serve(run, processes)
            if processes == options.processes[0]:
                await _define_workflow(run)
            for op in HTTP_OPS:
                if options.wants(op.name):
                    progress(f"{op.name}, {processes} gateway process(es)")
                    results.figures.append(await measure_http(run, op, processes))
            if processes == 1 and options.wants("executions"):
                progress("executions through one worker, events one by one")
                single = await measure_executions(run, batched=False)
                progress("executions through one worker, events in batches")
                batched = await measure_executions(run, batched=True)
                results.figures += [single, batched]
                progress("end-to-end latency at half of the one-by-one peak")
                results.figures.append(await measure_latency(run, single.linkport.rate))
        if options.wants("memory"):
            await _serve(run, 1)  # fresh processes: their idle memory is the starting point
            progress(f"memory over {options.memory_events:,} events")
            results.memory = await measure_memory(run)
    return results
