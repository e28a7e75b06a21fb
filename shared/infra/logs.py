"""Structured logs: JSON lines with a request id, scrubbed of anything that looks like a secret.

Linkport's own log calls take structlog's fast path (level filtered before any work,
rendered once); other libraries' standard-library logs are rendered by the same
processors, so every line has one shape. Lines reach stderr through one buffered handler
(the standard library's ``MemoryHandler``): a write per line (stderr is line-buffered, or
unbuffered under PYTHONUNBUFFERED) cost the gateway about a tenth of its throughput, one
line being logged for every request.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
import structlog

from shared.infra.tokens import SECRET_PATTERN

# The id of the request being served; every log line written while serving it carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# The event a request accepted (a UUID): its access line names it, so one line pairs the
# request's id with the event's (cheaper than a line of its own on the ingest path).
ACCEPTED_EVENT: ContextVar[str | None] = ContextVar("accepted_event", default=None)

_SECRET_FIELDS = frozenset(
    {
        "authorization",
        "client_secret",
        "api_key",
        "access_token",
        "refresh_token",
        "token",
        "password",
        "secret",
    }
)


def scrub_secrets(value: Any) -> Any:
    """A copy of ``value`` with secret-named fields blanked and secret-shaped text replaced."""
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_PATTERN.sub("[redacted]", value)
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k.lower() in _SECRET_FIELDS else _scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank secret-named fields and scrub secret-shaped text anywhere."""
    for key, value in event_dict.items():
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
        elif not isinstance(value, int | float | bool | None):
            event_dict[key] = _scrub(value)
    return event_dict


def add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current request's id (cheaper than merging all contextvars)."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict["request_id"] = request_id
    return event_dict


def _add_stdlib_logger_name(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger_name"] = record.name
    return event_dict


class _Line(logging.LogRecord):
    """A line already rendered, on its way to stderr. Only this module's handlers see one, so
    it skips LogRecord's constructor (its clock, thread and process look-ups cost more than
    the line on the gateway's hot path) and keeps what a Formatter reads of it."""

    args = ()
    exc_info = None
    exc_text = None
    stack_info = None

    def __init__(self, text: str, levelno: int = logging.INFO) -> None:
        self.msg = text
        self.levelno = levelno


class _Stderr(logging.StreamHandler[TextIO]):
    """What the buffer writes through: whatever ``sys.stderr`` is when it writes (tests and
    tools swap it), and quiet when stderr is closed or gone (logging must not raise)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one block of lines."""
        self.stream = sys.stderr
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Nowhere left to report a failed write to stderr."""


class BufferedStderr(logging.handlers.MemoryHandler):
    """stderr, written in blocks. ``MemoryHandler`` holds the lines and writes them out when
    it holds ``CAPACITY``, at once for a line at WARNING or above (after those before it), and
    when logging shuts down at exit; a daemon thread also writes them every ``FLUSH_INTERVAL``
    seconds, so a process killed outright loses at most that interval of INFO lines.

    Lines are rendered as they are logged (with the request id of that moment) and written
    out together, one write per block instead of MemoryHandler's one per record. Linkport's
    own lines arrive rendered (``write``); appending takes no lock (``list.append`` is
    atomic), writing out does.
    """

    FLUSH_INTERVAL = 0.2
    CAPACITY = 512

    def __init__(self) -> None:
        super().__init__(self.CAPACITY, flushLevel=logging.WARNING, target=_Stderr())
        self._flusher: threading.Thread | None = None

    def write(self, line: str, *, level: int = logging.INFO) -> None:
        """Add one rendered line (without its newline)."""
        record = _Line(line, level)
        self.buffer.append(record)
        if self.shouldFlush(record):
            self.flush()
        if self._flusher is None:
            self._start_flusher()

    def emit(self, record: logging.LogRecord) -> None:
        """A standard-library record: rendered now, then buffered like any line."""
        try:
            line = self.format(record)
        except Exception:  # logging must never take the process down
            self.handleError(record)
            return
        self.write(line, level=record.levelno)

    def flush(self) -> None:
        """Write out everything buffered, in order, in one write."""
        self.acquire()
        try:
            count = len(self.buffer)  # lines appended meanwhile stay for the next block
            if count and self.target is not None:
                block = "\n".join(line.msg for line in self.buffer[:count])
                del self.buffer[:count]
                self.target.handle(_Line(block))
        finally:
            self.release()

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(target=self._flush_often, name="log-flush", daemon=True)
        self._flusher.start()

    def _flush_often(self) -> None:
        while self.target is not None:  # until closed
            time.sleep(self.FLUSH_INTERVAL)
            self.flush()


log_sink = BufferedStderr()


class _SinkLogger:
    """structlog's logger: rendered lines into the sink, WARNING and above written at once."""

    def msg(self, message: str) -> None:
        log_sink.write(message)

    debug = info = msg

    def warning(self, message: str) -> None:
        log_sink.write(message, level=logging.WARNING)

    warn = error = exception = critical = fatal = warning


def _orjson_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _UtcClock:
    """ISO 8601 UTC timestamps as structlog writes them, the seconds part formatted once a
    second (the access log asks for one per request)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        """``2026-11-23T18:16:34.130836Z``."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"


_clock = _UtcClock()


class _AccessLog:
    """The gateway's per-request line, written without structlog's processor chain.

    It is the one line logged for every request, so it takes a direct path: the fields are
    known and safe (a method is an HTTP token, a request id matches ``[A-Za-z0-9._-]``), so
    only the path is JSON-escaped, after scrubbing. With text logs (``linkport dev``) it goes
    through structlog like everything else.
    """

    def __init__(self) -> None:
        self.enabled = True
        self.json = True

    def write(self, *, method: str, path: str, status: int, started: float) -> None:
        """Log one served request (``started``: its ``time.perf_counter()`` at arrival)."""
        event_id = ACCEPTED_EVENT.get()
        if event_id is not None:  # a connection's next request must not inherit it
            ACCEPTED_EVENT.set(None)
        if not self.enabled:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        if "_" in path:  # every secret prefix has one
            path = SECRET_PATTERN.sub("[redacted]", path)
        if not self.json:
            structlog.get_logger(logger_name="linkport.access").info(
                "request",
                method=method,
                path=path,
                status=status,
                duration_ms=round(duration_ms, 2),
                **({"event_id": event_id} if event_id is not None else {}),
            )
            return
        accepted = f'"event_id":"{event_id}",' if event_id is not None else ""
        log_sink.write(
            f'{{"logger_name":"linkport.access","method":"{method}","path":{orjson.dumps(path).decode()},'
            f'"status":{status},"duration_ms":{duration_ms:.2f},"event":"request",{accepted}'
            f'"request_id":"{REQUEST_ID.get()}","level":"info","timestamp":"{_clock.now()}"}}'
        )


access_log = _AccessLog()


class _ArqJobLines(logging.Filter):
    """arq logs two INFO lines for every job it starts and finishes (``0.02s → name(...)``,
    ``0.01s ← name ●``), and two a second for the sweeper cron. Linkport logs each
    execution's outcome itself, so below DEBUG these lines are noise, and a measurable cost
    per job; arq's other lines (startup, shutdown, retries, failures) still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not (message.startswith("%6.2fs ") and (" → " in message or " ← " in message))


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send structlog and standard-library logs, scrubbed, to stderr as JSON lines (or text)."""
    log_sink.flush()
    access_log.enabled = logging.getLevelName(level) <= logging.INFO
    access_log.json = json
    shared: list[Any] = [
        # ids bound for a stretch of work (a worker's execution: execution_id, event_id)
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=lambda *_: _SinkLogger(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    log_sink.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                _add_stdlib_logger_name,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [log_sink]
    root.setLevel(level)
    # The gateway writes its own access log line (without query strings, which may hold tokens).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    arq_worker = logging.getLogger("arq.worker")
    arq_worker.filters[:] = [] if logging.getLevelName(level) <= logging.DEBUG else [_ArqJobLines()]
