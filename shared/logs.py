"""Structured logs: JSON lines with a request id, scrubbed of anything that looks like a secret.

Linkport's own log calls take structlog's fast path (level filtered before any work,
rendered once, written to stderr); other libraries' standard-library logs are rendered
by the same processors, so every line has one shape.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from shared.tokens import SECRET_PATTERN

# The id of the request being served; every log line written while serving it carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

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


def _orjson_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _AccessLog:
    """The gateway's per-request line, written without structlog's processor chain.

    It is the one line logged for every request, so it takes a direct path: fixed,
    known-safe fields rendered once with orjson (the path is still scrubbed). With
    text logs (``linkport dev``) it goes through structlog like everything else.
    """

    def __init__(self) -> None:
        self.enabled = True
        self.json = True

    def write(self, *, method: str, path: str, status: int, duration_ms: float) -> None:
        """Log one served request."""
        if not self.enabled:
            return
        fields = {
            "method": method,
            "path": SECRET_PATTERN.sub("[redacted]", path),
            "status": status,
            "duration_ms": duration_ms,
        }
        if not self.json:
            structlog.get_logger(logger_name="linkport.access").info("request", **fields)
            return
        line = {
            "logger_name": "linkport.access",
            **fields,
            "event": "request",
            "request_id": REQUEST_ID.get(),
            "level": "info",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        sys.stderr.write(orjson.dumps(line).decode() + "\n")


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
    access_log.enabled = logging.getLevelName(level) <= logging.INFO
    access_log.json = json
    shared: list[Any] = [
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
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
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
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The gateway writes its own access log line (without query strings, which may hold tokens).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    arq_worker = logging.getLogger("arq.worker")
    arq_worker.filters[:] = [] if logging.getLevelName(level) <= logging.DEBUG else [_ArqJobLines()]
