"""Rate limits: token buckets in Redis, spent from memory in leases.

A bucket lives in Redis as a hash ``{t: tokens, ts: milliseconds}`` under ``lp:rl:…`` and
refills at ``rate`` tokens a second up to ``burst``; one Lua script refills and takes from
several buckets at once, on Redis's own clock, so every replica draws from the same buckets.

A gateway does not ask Redis on every request. It takes a *lease* of up to a tenth of a
second of a bucket's rate (at most a tenth of its burst) in one script call and spends it
from memory (for up to ``LEASE_TTL`` seconds); when Redis says a bucket is empty, the gateway
remembers until when and answers 429 from memory meanwhile. So a request costs a round trip
only once per lease of each of its buckets, and a client over its limit costs none: another
tenant's requests do not wait behind its 429s. Buckets found empty by any request in the same
event-loop turn are refilled by one script call, so traffic spread over many linked accounts
(each needing a first lease) shares round trips under load. The price is precision: across ``n``
replicas a bucket may give out up to ``n`` leases more than its burst at once.

Rate limiting fails open: when Redis cannot be reached (a call is bounded by
``CALL_TIMEOUT``), every bucket runs from memory at its full rate and Redis is tried again a
second later; the failure goes to ``on_error`` (the gateway's outage log), never to the caller.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.config import Settings
from shared.errors import ApiError, ErrorCode
from shared.infra import redis_keys
from shared.tenancy import Tenant

# Seconds of a bucket's rate a lease takes, seconds a lease may be spent for, and the bound
# on one script call (the refill path only; the hot path never waits on Redis). A long life
# keeps sparse traffic cheap (an account seen a few times a minute still pays one round trip
# per lease, not per request); what it costs is bounded by the lease's size.
LEASE_SECONDS = 0.1
LEASE_TTL = 60.0
CALL_TIMEOUT = 0.5
# While Redis cannot be reached: how long each bucket runs from memory (at its full rate)
# before the next attempt.
FAIL_OPEN_SECONDS = 1.0
# Times a request retries a refill that other requests emptied before it could take a token.
_REFILL_ATTEMPTS = 3

# KEYS: buckets; ARGV: rate (tokens/s), burst, tokens wanted, for each bucket in turn.
# Returns granted, milliseconds until one token is there (when none was granted), per bucket.
TOKEN_BUCKETS_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2]) / 1000
  local burst = tonumber(ARGV[3 * i - 1])
  local want = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 't', 'ts')
  local tokens = burst
  if state[1] then
    tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
  end
  local granted = math.min(want, math.floor(tokens))
  local wait = 0
  if granted < 1 then
    granted = 0
    wait = math.ceil((1 - tokens) / rate)
  else
    tokens = tokens - granted
  end
  redis.call('HSET', key, 't', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
  out[#out + 1] = granted
  out[#out + 1] = wait
end
return out
"""

# KEYS: the source's counter; ARGV: window ms, limit, block ms. Counts a failure; the one that
# reaches the limit makes the counter live for the block instead. Returns count, ms left.
AUTH_FAILURES_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {n, redis.call('PTTL', KEYS[1])}
"""

ErrorHook = Callable[[BaseException], None]


class RateLimited(ApiError):
    """A 429: the caller should come back in ``retry_after`` seconds (the Retry-After header)."""

    def __init__(self, retry_after: float, message: str) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message)
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass(frozen=True, slots=True)
class Limit:
    """A bucket's refill rate (tokens a second) and capacity."""

    rate: float
    burst: int

    @classmethod
    def of(cls, rate: float, burst_seconds: float) -> Limit:
        """A limit of ``rate`` a second holding ``burst_seconds`` of it (at least one token)."""
        return cls(rate, max(1, math.ceil(rate * burst_seconds)))

    @property
    def lease(self) -> int:
        """Tokens one refill asks for."""
        return max(1, min(int(self.rate * LEASE_SECONDS), self.burst // 10))


@dataclass(slots=True)
class _Lease:
    tokens: int = 0
    expires: float = 0.0
    blocked_until: float = 0.0
    refilling: asyncio.Future[None] | None = field(default=None)

    def idle(self, now: float) -> bool:
        return self.refilling is None and self.expires <= now and self.blocked_until <= now


@dataclass(slots=True)
class _Wanted:
    """A bucket in the next script call, and how many requests wait for it."""

    limit: Limit
    lease: _Lease
    demand: int = 1

    @property
    def want(self) -> int:
        return min(self.limit.burst, max(self.limit.lease, self.demand))


def _call_failed(exc: BaseException) -> bool:
    return isinstance(exc, RedisError | OSError | TimeoutError)


class TokenBuckets:
    """Takes one token from each of several buckets, or raises ``RateLimited``."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_entries: int = 100_000,
        on_error: ErrorHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(TOKEN_BUCKETS_LUA)
        self._leases: dict[str, _Lease] = {}
        self._max_entries = max_entries
        self._on_error = on_error
        self._clock = clock
        self._unreachable_until = 0.0
        # Buckets to refill in the next script call, and what waiters await; calls under way.
        self._batch: dict[str, _Wanted] | None = None
        self._batch_done: asyncio.Future[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()

    async def take(self, buckets: Sequence[tuple[str, Limit]], message: str) -> None:
        """Spend a token of every bucket (all or none), refilling leases from Redis as needed."""
        for _ in range(_REFILL_ATTEMPTS):
            now = self._clock()
            empty: list[tuple[str, Limit, _Lease]] = []
            leases: list[_Lease] = []
            for key, limit in buckets:
                lease = self._leases.get(key)
                if lease is None:
                    lease = self._lease(key, now)
                if lease.blocked_until > now:
                    raise RateLimited(lease.blocked_until - now, message)
                if lease.tokens <= 0 or lease.expires <= now:
                    empty.append((key, limit, lease))
                leases.append(lease)
            if not empty:
                for lease in leases:
                    lease.tokens -= 1
                return
            await self._refill(empty)
        raise RateLimited(1, message)

    def _lease(self, key: str, now: float) -> _Lease:
        if len(self._leases) >= self._max_entries:
            self._leases = {k: v for k, v in self._leases.items() if not v.idle(now)}
            if len(self._leases) >= self._max_entries:  # all busy: forget the older half
                self._leases = dict(list(self._leases.items())[len(self._leases) // 2 :])
        lease = self._leases[key] = _Lease()
        return lease

    async def _refill(self, empty: list[tuple[str, Limit, _Lease]]) -> None:
        """Join the next script call (one per event-loop turn, for every bucket any request
        of that turn found empty, asking for at least as many tokens as requests wait), or
        wait for the call already refilling a bucket."""
        loop = asyncio.get_running_loop()
        waits: set[asyncio.Future[None]] = set()
        for key, limit, lease in empty:
            refilling = lease.refilling
            if refilling is not None and refilling is not self._batch_done:
                if not refilling.done():
                    waits.add(refilling)  # under way: see what is left after it
                    continue
                lease.refilling = None
            if self._batch is None:
                self._batch = {}
                self._batch_done = loop.create_future()
                loop.call_soon(self._flush)
            assert self._batch_done is not None
            wanted = self._batch.get(key)
            if wanted is None or wanted.lease is not lease:  # (a lease evicted meanwhile)
                demand = 1 if wanted is None else wanted.demand + 1
                self._batch[key] = _Wanted(limit, lease, demand)
            else:
                wanted.demand += 1
            lease.refilling = self._batch_done
            waits.add(self._batch_done)
        for waiting in waits:
            await asyncio.shield(waiting)  # a shared call: our cancellation is not its

    def _flush(self) -> None:
        batch, done = self._batch, self._batch_done
        self._batch = self._batch_done = None
        assert batch is not None
        assert done is not None
        task = asyncio.create_task(self._call_batch(batch, done))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _call_batch(self, batch: dict[str, _Wanted], done: asyncio.Future[None]) -> None:
        try:
            await self._call(batch)
        finally:
            for wanted in batch.values():
                wanted.lease.refilling = None
            done.set_result(None)

    def _fail_open(self, batch: dict[str, _Wanted], now: float) -> None:
        # A second's worth of each bucket's rate from memory; Redis is asked again after it.
        for wanted in batch.values():
            limit = wanted.limit
            wanted.lease.tokens = max(wanted.want, math.ceil(limit.rate * FAIL_OPEN_SECONDS))
            wanted.lease.expires = now + FAIL_OPEN_SECONDS

    async def _call(self, batch: dict[str, _Wanted]) -> None:
        now = self._clock()
        if now < self._unreachable_until:
            self._fail_open(batch, now)
            return
        args: list[float | int] = []
        for wanted in batch.values():
            args += (wanted.limit.rate, wanted.limit.burst, wanted.want)
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                reply = await self._script(keys=list(batch), args=args)
        except Exception as exc:
            if not _call_failed(exc):
                raise
            if self._on_error is not None:
                self._on_error(exc)
            now = self._clock()
            self._unreachable_until = now + FAIL_OPEN_SECONDS
            self._fail_open(batch, now)
            return
        now = self._clock()
        for i, wanted in enumerate(batch.values()):
            granted, wait_ms = int(reply[2 * i]), int(reply[2 * i + 1])
            lease, limit = wanted.lease, wanted.limit
            if granted > 0:
                lease.tokens, lease.expires = granted, now + LEASE_TTL
            else:
                # Empty: answer 429 from memory until a lease's worth has come back.
                lease.tokens = 0
                lease.blocked_until = now + max(wait_ms / 1000, limit.lease / limit.rate)


class ApiLimits:
    """The API's limits: per client (tenant environment) and per linked account."""

    def __init__(self, buckets: TokenBuckets, settings: Settings) -> None:
        self._buckets = buckets
        burst = settings.rate_limit_burst
        self._client = Limit.of(settings.rate_limit_client, burst)
        self._account = (
            Limit.of(settings.rate_limit_account, burst) if settings.rate_limit_account else None
        )
        self._overrides = {
            client_id.lower(): Limit.of(rate, burst)
            for client_id, rate in settings.rate_limit_overrides.items()
        }
        self._client_keys: dict[Tenant, tuple[str, Limit | None]] = {}

    async def check(self, tenant: Tenant, linked_account_id: str | None) -> None:
        """Take one request from the tenant's bucket and the linked account's, or raise 429."""
        client = self._client_keys.get(tenant)
        if client is None:
            client = self._client_bucket(tenant)
        key, limit = client
        buckets: list[tuple[str, Limit]] = [] if limit is None else [(key, limit)]
        if linked_account_id is not None and self._account is not None:
            account_key = redis_keys.rate_limit_account(
                tenant.client_id, tenant.environment, linked_account_id
            )
            buckets.append((account_key, self._account))
        if buckets:
            await self._buckets.take(
                buckets, "too many requests: slow down and retry after the Retry-After seconds"
            )

    def _client_bucket(self, tenant: Tenant) -> tuple[str, Limit | None]:
        limit = self._overrides.get(str(tenant.client_id), self._client)
        client = (
            redis_keys.rate_limit_client(tenant.client_id, tenant.environment),
            limit if limit.rate > 0 else None,
        )
        if len(self._client_keys) > 10_000:
            self._client_keys.clear()
        self._client_keys[tenant] = client
        return client


class AuthFailures:
    """Failed authentications per source address; a source past the limit is refused a while.

    Counting costs a round trip, but only on a 401. Whether a source is blocked is known from
    memory (each replica learns it from Redis at its own next failure from that source).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        limit: int,
        window: float,
        block: float,
        on_error: ErrorHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._script = redis.register_script(AUTH_FAILURES_LUA)
        self._limit = limit
        self._window_ms = max(1, math.ceil(window * 1000))
        self._block_ms = max(1, math.ceil(block * 1000))
        self._on_error = on_error
        self._clock = clock
        self._max_entries = max_entries
        # source address -> monotonic time its block ends; empty in normal operation
        self.blocked: dict[str, float] = {}

    def retry_after(self, source: str) -> float | None:
        """Seconds ``source`` is still refused for, or None."""
        until = self.blocked.get(source)
        if until is None:
            return None
        left = until - self._clock()
        if left <= 0:
            del self.blocked[source]
            return None
        return left

    async def failed(self, source: str) -> None:
        """Count one failed authentication from ``source``."""
        if self._limit <= 0:
            return
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                count, ttl_ms = await self._script(
                    keys=[redis_keys.auth_failures(source)],
                    args=[self._window_ms, self._limit, self._block_ms],
                )
        except Exception as exc:
            if not _call_failed(exc):
                raise
            if self._on_error is not None:
                self._on_error(exc)
            return
        if int(count) >= self._limit and int(ttl_ms) > 0:
            now = self._clock()
            if len(self.blocked) >= self._max_entries:
                self.blocked = {k: v for k, v in self.blocked.items() if v > now}
            self.blocked[source] = now + int(ttl_ms) / 1000
