"""Request id, access log, deadlines, limits and the JSON error contract, for every request.

Bodies are limited where they are read: API bodies from their ``Content-Length`` before
any byte is read (``endpoints``), everything else by aiohttp's ``client_max_size``. How long
they may take to arrive is bounded here (``body_read_timeout``: 408), and so is the handling
of every request once its body is in (``request_deadline``: 503).

Failures of PostgreSQL or Redis answer 503 ``service_unavailable`` with ``Retry-After``, and
are logged once per outage (``dependency_unavailable`` … ``dependency_recovered``), not once
per request. A client that went away answers 499 in the access log, with one INFO line.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import asyncpg
import orjson
import structlog
from aiohttp import web, web_protocol, web_server
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.typedefs import Middleware
from aiohttp.web_request import BaseRequest

from shared.config import Settings
from shared.errors import ApiError, ErrorCode
from shared.infra.logs import REQUEST_ID, access_log
from shared.infra.outages import POSTGRES_ERRORS, REDIS_ERRORS
from shared.infra.ratelimit import ApiLimits, AuthFailures, RateLimited

log = structlog.get_logger(logger_name="linkport.gateway")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids only need to be unique, not secret: a random per-process prefix and a counter
# (no system call per request).
_REQUEST_ID_PREFIX = os.urandom(8).hex()
_request_numbers = itertools.count(1)

# Seconds a client should wait after a 503 (outages end by themselves in well under that).
RETRY_AFTER_UNAVAILABLE = 1
# nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_REQUEST = 499
# After a deadline's cancellation, how long the handler may take to unwind before it is
# cancelled again (asyncpg waits for the server to acknowledge a cancelled query, and a
# stopped server never does).
DEADLINE_GRACE = 0.2
# How often deadlines are checked: they fire up to this late.
DEADLINE_TICK = 0.1
# Probes of PostgreSQL and Redis (``/readyz`` and the outage log): a bound on each, and the
# interval between probes while a dependency is down.
PROBE_TIMEOUT = 2.0
RECHECK_INTERVAL = 0.5
# Paths a source blocked for failed authentications may still call.
_ALWAYS_ALLOWED = frozenset({"/healthz", "/readyz"})

_HTTP_ERROR_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[ApiError, str], web.Response]
Probe = Callable[[], Awaitable[object]]


def error_response(
    error: ApiError, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The JSON body every error answers with."""
    body = error.body()
    body["error"]["request_id"] = request_id
    response = web.Response(
        body=orjson.dumps(body),
        status=error.status,
        content_type="application/json",
        headers={REQUEST_ID_HEADER: request_id},
    )
    if headers:
        response.headers.update(headers)
    return response


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    code = _HTTP_ERROR_CODES.get(exc.status)
    if code is ErrorCode.NOT_FOUND:
        return ApiError(code, "no such route")
    if code is ErrorCode.PAYLOAD_TOO_LARGE:
        return ApiError(code, "request body is too large")
    if code is ErrorCode.METHOD_NOT_ALLOWED:
        allowed = exc.headers.get("Allow", "")
        return ApiError(code, f"method not allowed here; allowed: {allowed or 'none'}")
    if code is not None:
        return ApiError(code, exc.reason)
    return ApiError(ErrorCode.VALIDATION_FAILED, exc.reason)


# ---------------------------------------------------------------------------------------------
# Dependencies: which failure is an outage, and one log line per outage


# Which exceptions are an outage is written once, in shared.infra.outages.
_POSTGRES_ERRORS = POSTGRES_ERRORS
_REDIS_ERRORS = REDIS_ERRORS


def _library_in_traceback(exc: BaseException) -> str | None:
    """'postgres' or 'redis' when the exception (or the one it interrupted) was raised inside
    asyncpg or redis-py (arq): the innermost such frame decides."""
    found: str | None = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb: TracebackType | None = current.__traceback__
        while tb is not None:
            module = tb.tb_frame.f_globals.get("__name__", "")
            if module.startswith("asyncpg"):
                found = "postgres"
            elif module.startswith(("redis", "arq")):
                found = "redis"
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return found


def dependency_of(exc: BaseException) -> str | None:
    """The dependency (``postgres``, ``redis``, or ``unknown`` for a timeout elsewhere) whose
    unavailability ``exc`` shows, or None when it shows a bug."""
    if isinstance(exc, _REDIS_ERRORS):
        return "redis"
    if isinstance(exc, _POSTGRES_ERRORS):
        return "postgres"
    if isinstance(exc, asyncpg.InterfaceError) and "clos" in str(exc):  # closed pool/connection
        return "postgres"
    if isinstance(exc, TimeoutError | asyncio.CancelledError):
        return _library_in_traceback(exc) or "unknown"
    if isinstance(exc, OSError):  # refused, reset, unreachable: only inside a client library
        return _library_in_traceback(exc)
    return None


@dataclass
class _Outage:
    started: float
    failures: int = 0
    watcher: asyncio.Task[None] | None = None


class Outages:
    """Knows which dependency is down: logs one line when an outage starts and one when a
    probe finds the dependency answering again; probes one at a time per dependency."""

    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}
        self._in_flight: dict[str, asyncio.Task[bool]] = {}
        self._down: dict[str, _Outage] = {}

    def watch(self, name: str, probe: Probe) -> None:
        """Probe ``name`` with ``probe`` (awaited; any exception or a hang means down)."""
        self._probes[name] = probe

    def is_down(self, name: str) -> bool:
        """Whether an outage of ``name`` is under way."""
        return name in self._down

    async def check(self, name: str, within: float = PROBE_TIMEOUT) -> bool:
        """Whether ``name`` answers, known within ``within`` seconds (a probe still running
        from an earlier check is waited for rather than doubled)."""
        task = self._in_flight.get(name)
        if task is None or task.done():
            task = self._in_flight[name] = asyncio.create_task(
                self._probe(name), context=contextvars.Context()
            )
        done, _ = await asyncio.wait({task}, timeout=within)
        return bool(done) and not task.cancelled() and task.result()

    async def _probe(self, name: str) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self._probes[name]()
        except Exception as exc:
            self.failed(name, exc)
            return False
        return True

    def failed(self, name: str, exc: BaseException) -> None:
        """Count a failure of ``name``; the first one of an outage is logged."""
        outage = self._down.get(name)
        if outage is None:
            outage = self._down[name] = _Outage(started=time.monotonic())
            log.warning(
                "dependency_unavailable",
                dependency=name,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            if name in self._probes:  # in a context of its own: no request id on its lines
                outage.watcher = asyncio.create_task(
                    self._watch(name, outage), context=contextvars.Context()
                )
        outage.failures += 1

    async def _watch(self, name: str, outage: _Outage) -> None:
        while True:
            if await self.check(name):
                break
            await asyncio.sleep(RECHECK_INTERVAL)
        del self._down[name]
        log.warning(
            "dependency_recovered",
            dependency=name,
            down_seconds=round(time.monotonic() - outage.started, 2),
            failures=outage.failures,
        )

    async def close(self) -> None:
        """Stop probing (the gateway is stopping)."""
        tasks: list[asyncio.Task[Any]] = [t for t in self._in_flight.values() if not t.done()]
        tasks += [o.watcher for o in self._down.values() if o.watcher is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _PoolFloorRetries(logging.Filter):
    """asyncpg's pool logs a WARNING with a traceback each time it fails to reconnect its
    minimum of connections (1 s, 2 s, 4 s … apart) during an outage: the outage log says it
    once, so these lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to restore the pool connection floor")


def quiet_pool_reconnect_warnings() -> None:
    """Install the filter on asyncpg's pool logger (once)."""
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _PoolFloorRetries) for f in pool_logger.filters):
        pool_logger.addFilter(_PoolFloorRetries())


# ---------------------------------------------------------------------------------------------
# Per-application state the middleware and the routes share


@dataclass
class Guard:
    """What the gateway's middleware and rate-limited routes use; limits once Redis is open."""

    settings: Settings
    outages: Outages = field(default_factory=Outages)
    limits: ApiLimits | None = None
    auth_failures: AuthFailures | None = None
    # Handlers that may call a third party (hosted Link pages): the outbound timeout on top.
    slow_handlers: frozenset[Any] = frozenset()
    # A face's handlers, with how its clients read errors: what the middleware itself answers
    # (503 in an outage, 429 for a blocked source, 408) comes in that shape too.
    error_renderers: dict[Any, ErrorRenderer] = field(default_factory=dict)
    # Requests being handled, and whether the gateway is stopping (see ``drain``).
    in_flight: int = 0
    draining: bool = False
    _idle: asyncio.Event | None = None

    async def drain(self, within: float) -> bool:
        """Wait until no request is being handled (bodies still arriving included), at most
        ``within`` seconds; answers given meanwhile close their connection. True if drained."""
        self.draining = True
        if self.in_flight == 0:
            return True
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def request_done(self) -> None:
        self.in_flight -= 1
        if self._idle is not None and self.in_flight == 0:
            self._idle.set()


GUARD = web.AppKey("guard", Guard)


def source_address(request: web.Request, trusted_proxy_hops: int) -> str:
    """The client's address: the peer's, or the one the nearest trusted proxy saw."""
    if trusted_proxy_hops:
        hops = [
            part.strip()
            for header in request.headers.getall("X-Forwarded-For", ())
            for part in header.split(",")
        ]
        if len(hops) >= trusted_proxy_hops:
            return hops[-trusted_proxy_hops]
    return request.remote or "unknown"


class _Deadlines:
    """The deadlines of the requests in flight, checked every ``DEADLINE_TICK`` seconds by one
    timer: a request costs a set insert and removal rather than a timer of its own (a timer
    each cost ~1.5% of a link-token request's CPU)."""

    def __init__(self) -> None:
        self._active: set[_Deadline] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def add(self, deadline: _Deadline) -> None:
        self._active.add(deadline)
        if self._handle is None:
            assert self._loop is not None
            self._handle = self._loop.call_later(DEADLINE_TICK, self._tick)

    def discard(self, deadline: _Deadline) -> None:
        self._active.discard(deadline)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for deadline in [d for d in self._active if d.due <= now]:
            deadline.fire(now)
        self._handle = self._loop.call_later(DEADLINE_TICK, self._tick) if self._active else None


class _Deadline:
    """Cancels the request's task when its body is late (``body``) or, once the body is in,
    when its handling is (``handler``); cancels once more after ``DEADLINE_GRACE`` if the first
    cancellation is still unwinding."""

    __slots__ = (
        "_absorbed",
        "_deadlines",
        "_handler_seconds",
        "_task",
        "due",
        "fired",
        "kind",
    )

    def __init__(
        self,
        deadlines: _Deadlines,
        request: web.Request,
        body_seconds: float,
        handler_seconds: float,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._deadlines = deadlines
        self._handler_seconds = handler_seconds
        self._absorbed = 0
        self.fired = 0
        payload = request.content
        if payload.is_eof():
            self.kind = "handler"
            self.due = deadlines.now() + handler_seconds
        else:
            self.kind = "body"
            self.due = deadlines.now() + body_seconds
            payload.on_eof(self._body_arrived)
        deadlines.add(self)

    def _body_arrived(self) -> None:
        if not self.fired and self.kind == "body" and self.due != math.inf:
            self.kind = "handler"
            self.due = self._deadlines.now() + self._handler_seconds

    def fire(self, now: float) -> None:
        self.fired += 1
        self._task.cancel()
        self.due = now + DEADLINE_GRACE if self.fired == 1 else math.inf

    def stop(self) -> None:
        """The handler is done: no more cancellations."""
        self.due = math.inf  # a body arriving later changes nothing
        self._deadlines.discard(self)

    def absorb(self) -> bool:
        """Withdraw this deadline's cancellations (once); True when it fired and nothing else
        cancelled the task."""
        for _ in range(self.fired - self._absorbed):
            self._task.uncancel()
        self._absorbed = self.fired
        return self.fired > 0 and self._task.cancelling() == 0


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def gateway_middleware(guard: Guard) -> Middleware:
    """The middleware of one gateway application."""
    settings = guard.settings
    deadlines = _Deadlines()
    deadline_seconds = settings.request_deadline
    slow_deadline_seconds = settings.request_deadline + settings.outbound_timeout
    body_seconds = settings.body_read_timeout
    outages = guard.outages
    proxy_hops = settings.trusted_proxy_hops
    unavailable_headers = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}

    def respond(
        request: web.Request,
        error: ApiError,
        request_id: str,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """The error in the shape of the route's face (Linkport's own without one)."""
        render = guard.error_renderers.get(request.match_info.handler)
        if render is None:
            return error_response(error, request_id, headers)
        response = render(error, request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        if headers:
            response.headers.update(headers)
        return response

    def unavailable(
        request: web.Request, dependency: str, exc: BaseException, request_id: str
    ) -> web.Response:
        outages.failed(dependency, exc)
        error = ApiError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "a service Linkport depends on is unavailable; retry after Retry-After seconds",
        )
        return respond(request, error, request_id, unavailable_headers)

    def client_closed(request: web.Request, exc: BaseException) -> web.Response:
        # Not an error of ours: the access line (status 499) says it; details at DEBUG.
        log.debug("client_closed_request", path=request.path, error=type(exc).__name__)
        return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")

    async def count_auth_failure(request: web.Request) -> None:
        if guard.auth_failures is not None:
            await guard.auth_failures.failed(source_address(request, proxy_hops))

    @web.middleware
    async def request_context(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        """Tag the request with an id, bound it in time, turn every failure into JSON."""
        offered = request.headers.get(REQUEST_ID_HEADER)
        request_id = (
            offered
            if offered is not None and _SAFE_REQUEST_ID.match(offered)
            else f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"  # 32 hex characters
        )
        request_id_token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        deadline: _Deadline | None = None
        guard.in_flight += 1
        try:
            auth_failures = guard.auth_failures
            if (
                auth_failures is not None
                and auth_failures.blocked
                and request.path not in _ALWAYS_ALLOWED
            ):
                wait = auth_failures.retry_after(source_address(request, proxy_hops))
                if wait is not None:
                    raise RateLimited(wait, "too many failed authentications from this address")
            deadline = _Deadline(
                deadlines,
                request,
                body_seconds,
                slow_deadline_seconds
                if request.match_info.handler in guard.slow_handlers
                else deadline_seconds,
            )
            try:
                response = await handler(request)
            finally:
                deadline.stop()
            response.headers[REQUEST_ID_HEADER] = request_id
            status = response.status
            if guard.draining:
                response.force_close()  # the gateway is stopping: reconnect elsewhere
            # A page answering 401 itself (the sandbox's login) is a failed sign-in; a streamed
            # answer (the proxy's) is an app's 401, not a failure to authenticate here.
            if status == 401 and not response.prepared:
                await count_auth_failure(request)
            return response
        except asyncio.CancelledError as exc:
            if deadline is None or not deadline.absorb():
                raise
            if _client_gone(request):
                status = CLIENT_CLOSED_REQUEST
                return client_closed(request, exc)
            if deadline.kind == "body":
                status = 408
                response = respond(
                    request,
                    ApiError(
                        ErrorCode.BODY_TIMEOUT,
                        f"the request body did not arrive within {body_seconds:g} seconds",
                    ),
                    request_id,
                )
                # Answer and close now: aiohttp would otherwise linger reading (and dropping)
                # the rest of the body for up to 10 s more.
                response.force_close()
                await response.prepare(request)
                await response.write_eof()
                request.protocol.force_close()
                return response
            status = 503
            return unavailable(request, dependency_of(exc) or "unknown", exc, request_id)
        except RateLimited as exc:
            status = exc.status
            return respond(request, exc, request_id, {"Retry-After": str(exc.retry_after)})
        except ApiError as exc:
            status = exc.status
            if status == 401:
                await count_auth_failure(request)
            return respond(request, exc, request_id)
        except web.HTTPException as exc:
            if exc.status < 400:
                status = exc.status
                raise
            error = _from_http_exception(exc)
            status = error.status
            allow = exc.headers.get("Allow") if exc.status == 405 else None
            return error_response(error, request_id, {"Allow": allow} if allow else None)
        except Exception as exc:
            if _client_gone(request):
                status = CLIENT_CLOSED_REQUEST
                return client_closed(request, exc)
            dependency = dependency_of(exc)
            if dependency is not None:
                status = 503
                return unavailable(request, dependency, exc, request_id)
            log.exception("unhandled_error", method=request.method, path=request.path)
            return error_response(ApiError(ErrorCode.INTERNAL, "internal error"), request_id)
        finally:
            if deadline is not None and deadline.fired:
                deadline.absorb()  # a handler that turned the cancellation into an error
            guard.request_done()
            if access_log.enabled:
                # the path, never the query string: it may carry a token
                access_log.write(
                    method=request.method, path=request.path, status=status, started=started
                )
            REQUEST_ID.reset(request_id_token)

    return request_context


# ---------------------------------------------------------------------------------------------
# Requests aiohttp's parser refuses (before any middleware): JSON too


def _parser_problem(exc: BaseException | None) -> tuple[str, str]:
    """(field, message) for a request the HTTP parser refused, echoing none of its bytes."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else "the allowed"
        if isinstance(exc.args[0], bytearray):  # llhttp's request target (the URL)
            return "url", f"the URL is longer than {limit} bytes"
        return "headers", f"a request header (name or value) is longer than {limit} bytes"
    message = getattr(exc, "message", "") or ""
    if "headers" in message.lower():
        return "headers", "too many request headers"
    return "request", "malformed HTTP request"


class JsonErrorsRequestHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering requests its parser refuses (URL or header over
    8,190 bytes, too many headers, malformed) with the JSON error body, logged as one INFO line
    rather than an ERROR traceback. Errors raised by handlers never get here: the gateway's
    middleware answers them."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        field_name, text = _parser_problem(exc)
        quiet = isinstance(exc, BadHttpMethod)  # non-HTTP traffic on the port
        (log.debug if quiet else log.info)("bad_http_request", problem=field_name, status=status)
        request_id = f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"
        response = error_response(
            ApiError(ErrorCode.BAD_REQUEST, text, field=field_name), request_id
        )
        response.set_status(status if 400 <= status < 500 else 400)
        response.force_close()
        return response


def install_json_parser_errors() -> None:
    """Make aiohttp's servers use ``JsonErrorsRequestHandler`` (``web.Server`` builds its
    connection handlers from this module attribute; aiohttp offers no other hook)."""
    web_server.RequestHandler = JsonErrorsRequestHandler  # type: ignore[attr-defined]
