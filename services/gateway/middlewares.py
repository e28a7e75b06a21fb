"""Request id, access log and the JSON error contract, for every request.

Bodies are limited where they are read: API bodies from their ``Content-Length`` before
any byte is read (``endpoints``), everything else by aiohttp's ``client_max_size``.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Awaitable, Callable

import orjson
import structlog
from aiohttp import web

from shared.errors import ApiError, ErrorCode
from shared.infra.logs import REQUEST_ID, access_log

log = structlog.get_logger(logger_name="linkport.gateway")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids only need to be unique, not secret: a random per-process prefix and a counter
# (no system call per request).
_REQUEST_ID_PREFIX = os.urandom(8).hex()
_request_numbers = itertools.count(1)

_HTTP_ERROR_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: ApiError, request_id: str) -> web.Response:
    """The JSON body every error answers with."""
    body = error.body()
    body["error"]["request_id"] = request_id
    return web.Response(
        body=orjson.dumps(body),
        status=error.status,
        content_type="application/json",
        headers={REQUEST_ID_HEADER: request_id},
    )


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    code = _HTTP_ERROR_CODES.get(exc.status)
    if code is ErrorCode.NOT_FOUND:
        return ApiError(code, "no such route")
    if code is ErrorCode.PAYLOAD_TOO_LARGE:
        return ApiError(code, "request body is too large")
    if code is not None:
        return ApiError(code, exc.reason)
    return ApiError(ErrorCode.VALIDATION_FAILED, exc.reason)


@web.middleware
async def request_context(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Tag the request with an id, enforce limits, turn every failure into a JSON error."""
    offered = request.headers.get(REQUEST_ID_HEADER)
    request_id = (
        offered
        if offered is not None and _SAFE_REQUEST_ID.match(offered)
        else f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"  # 32 hex characters
    )
    request_id_token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        return error_response(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            status = exc.status
            raise
        error = _from_http_exception(exc)
        status = error.status
        return error_response(error, request_id)
    except TimeoutError:
        # Postgres and Redis calls carry their own timeouts (no per-request timer on the hot path).
        error = ApiError(ErrorCode.TIMEOUT, "a dependency took too long; try again")
        status = error.status
        return error_response(error, request_id)
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(ApiError(ErrorCode.INTERNAL, "internal error"), request_id)
    finally:
        if access_log.enabled:
            # the path, never the query string: it may carry a token
            access_log.write(
                method=request.method, path=request.path, status=status, started=started
            )
        REQUEST_ID.reset(request_id_token)
