"""The proxy: ``/v1/proxy/{path}`` (GET POST PUT PATCH DELETE) calls the app's API through a
connection named by the ``Linkport-Connection-Id`` header, with the connection's credentials.

A plain aiohttp handler (the Router's endpoints answer JSON models; this one streams any
body back), with the same rules as the Router's: secret-key authentication, the tenant's and
the connection's account's rate limits, errors in Linkport's JSON shape (the middleware's),
the request deadline of handlers that call a third party.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict

from services.gateway import auth
from services.gateway.appkeys import PRINCIPAL, RESOURCES
from services.gateway.middlewares import GUARD, REQUEST_ID_HEADER
from services.gateway.openapi import METHOD_NOT_ALLOWED, SERVER_SECURITY
from shared.connections.credentials import CredentialSource
from shared.errors import ApiError, ErrorCode, invalid
from shared.infra.logs import REQUEST_ID
from shared.proxy import service as proxy
from shared.proxy.models import CONNECTION_HEADER, PROXY_PREFIX, ProxyCall

log = structlog.get_logger(logger_name="linkport.proxy")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
routes = web.RouteTableDef()


def _connection_id(request: web.Request) -> uuid.UUID:
    """The connection the call goes through: a 422 when the header is missing or malformed."""
    value = request.headers.get(CONNECTION_HEADER)
    if not value:
        raise invalid(
            CONNECTION_HEADER,
            f"{CONNECTION_HEADER}: header required (the id of the connection to call through)",
        )
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise invalid(CONNECTION_HEADER, f"{CONNECTION_HEADER}: must be a connection id") from None


async def _bounded_body(request: web.Request, max_bytes: int) -> bytes | None:
    """The request body, read in full up to ``max_bytes`` (413 beyond), None when there is none."""
    too_large = ApiError(
        ErrorCode.PAYLOAD_TOO_LARGE, f"a proxied request body may be at most {max_bytes} bytes"
    )
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    if not request.body_exists:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def proxy_request(request: web.Request) -> web.StreamResponse:
    """Forward the call to the connection's app and stream its answer back as it is (status,
    headers but hop-by-hop ones and cookies, body; a 429 with its Retry-After too)."""
    res = request.app[RESOURCES]
    principal = await auth.authenticate(request, res, allow_session=False, vital_header=False)
    request[PRINCIPAL] = principal
    connection_id = _connection_id(request)
    stored, app = await proxy.open_connection(
        pool=res.pool, catalog=res.catalog, tenant=principal.tenant, connection_id=connection_id
    )
    limits = request.app[GUARD].limits
    if limits is not None:
        await limits.check(principal.tenant, stored.connection.linked_account_id)
    call = ProxyCall(
        method=request.method,
        raw_path=request.rel_url.raw_path.removeprefix(PROXY_PREFIX),
        raw_query=request.rel_url.raw_query_string,
        headers=list(request.headers.items()),
        body=await _bounded_body(request, res.settings.proxy_max_body_bytes),
    )
    source = CredentialSource(
        pool=res.pool,
        redis=res.redis,
        keyring=res.keyring,
        catalog=res.catalog,
        http=res.http,
        settings=res.settings,
    )
    async with proxy.forward(source=source, stored=stored, app=app, call=call) as reply:
        response = web.StreamResponse(
            status=reply.status, headers=CIMultiDict(proxy.response_headers(reply.headers))
        )
        response.headers[REQUEST_ID_HEADER] = REQUEST_ID.get() or ""
        await response.prepare(request)
        try:
            async for chunk in reply.chunks:
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError, asyncio.CancelledError) as exc:
            # The status is sent already: cut the connection so that the caller sees a broken
            # answer rather than a complete-looking short one (or a second answer after it).
            log.warning("proxy_stream_interrupted", app=app.slug, error=type(exc).__name__)
            if request.transport is not None:
                request.transport.abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            return response
        await response.write_eof()
        return response


PROXY_PATH = PROXY_PREFIX + "{path:.*}"
for _method in METHODS:
    routes.route(_method, PROXY_PATH)(proxy_request)


def openapi_paths() -> dict[str, dict[str, Any]]:
    """The proxy's path item for ``/openapi.json`` (it is not a Router endpoint)."""
    anything: dict[str, Any] = {"*/*": {"schema": {}}}

    def ours_or_the_apps(when: str) -> dict[str, Any]:
        return {
            "description": f"{when} (Linkport's error body, ErrorBody), or the app's own answer "
            "with this status",
            "content": anything,
        }

    def operation(method: str) -> dict[str, Any]:
        op: dict[str, Any] = {
            "operationId": f"proxy_{method.lower()}",
            "summary": "Call the connection's app at {path} below its API base URL, with the "
            "connection's credentials; the app's answer comes back as it is",
            "tags": ["proxy"],
            "security": list(SERVER_SECURITY),
            "parameters": [
                {
                    "name": "path",
                    "in": "path",
                    "required": True,
                    "description": "the path below the app's API base URL (no '..', '//', '@', "
                    "backslashes, encoded slashes or absolute URLs)",
                    "schema": {"type": "string"},
                },
                {
                    "name": CONNECTION_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "the id of the connection the call goes through",
                    "schema": {"type": "string", "format": "uuid"},
                },
            ],
            "responses": {
                "400": ours_or_the_apps("a path that would leave the app's API"),
                "401": ours_or_the_apps("missing or wrong Linkport credentials"),
                "404": ours_or_the_apps("no such connection for this tenant"),
                "405": {"$ref": METHOD_NOT_ALLOWED},
                "409": ours_or_the_apps("the connection is not active: re-authorise it"),
                "413": ours_or_the_apps("a body over LINKPORT_PROXY_MAX_BODY_BYTES"),
                "422": ours_or_the_apps(f"the {CONNECTION_HEADER} header missing or malformed"),
                "502": ours_or_the_apps("the app could not be reached"),
                "504": ours_or_the_apps("the app did not answer in time"),
                "default": {"description": "the app's answer, as it is", "content": anything},
            },
        }
        if method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {"required": False, "content": anything}
        return op

    return {"/v1/proxy/{path}": {m.lower(): operation(m) for m in METHODS}}
