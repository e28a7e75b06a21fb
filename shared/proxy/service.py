"""The proxy's rules: which connection a call goes through, where it may go, what it carries.

A call to ``/v1/proxy/{path}`` goes to the connection's app at ``{api_base_url}/{path}``
(the base filled with the connection's fields), with the caller's query string and body,
the caller's headers minus hop-by-hop ones, Linkport's own credentials and cookies, and the
connection's credentials put on it as every action puts them (``request_credentials``).
The path can never leave the app's API: it is checked segment by segment before anything
is sent, and the joined URL must keep the base's origin and stay below its path. When the
app answers 401 and the connection can refresh its token, the token is refreshed once and
the call sent once more (its body was read in full, so it can be).
"""

from __future__ import annotations

import contextlib
import posixpath
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import aiohttp

from shared.connections import store
from shared.connections.credentials import (
    CredentialSource,
    ReauthorizationNeeded,
    current_credentials,
    mark_needs_reauth,
)
from shared.connections.models import ConnectionStatus, StoredConnection
from shared.connectors.auth import request_credentials
from shared.connectors.catalog import App, Catalog, fill, has_user_fields
from shared.connectors.oauth import OAuthError
from shared.errors import ApiError, ErrorCode, not_found
from shared.infra import metrics
from shared.infra.db import Pool
from shared.infra.outbound import BlockedDestination, StreamedResponse, origin
from shared.proxy.models import CONNECTION_HEADER, ProxyCall, UnsafePath
from shared.tenancy import Tenant

# RFC 9110 §7.6.1: headers about one hop, never forwarded (nor those a Connection header names).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The caller's headers that stay here: Linkport's own credentials (any form the gateway
# accepts), cookies, the host, the length (the client sets it from the body), 100-continue.
_REQUEST_DROPPED = HOP_BY_HOP | {
    "host",
    "authorization",
    "cookie",
    "content-length",
    "expect",
    "x-api-key",
    "x-vital-api-key",
    "client_id",
    "client_secret",
}
# The app's headers that stay there: cookies (they would be set on Linkport's origin), and
# what would make a browser treat Linkport's origin as the app's (CORS, HSTS, Alt-Svc).
_RESPONSE_DROPPED = HOP_BY_HOP | {
    "set-cookie",
    "set-cookie2",
    "strict-transport-security",
    "alt-svc",
    "x-request-id",
}


def check_path(raw_path: str) -> None:
    """Refuse a path (still percent-encoded, below ``/v1/proxy/``) that could leave the app's
    API: ``.`` or ``..`` segments (encoded too), empty segments (``//host``), an absolute URL,
    ``@``, backslashes, encoded slashes or backslashes, double encoding, control characters."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw_path):
        raise UnsafePath("the path must not contain spaces or control characters")
    if "\\" in raw_path:
        raise UnsafePath("the path must not contain backslashes")
    if "@" in raw_path:
        raise UnsafePath("the path must not contain '@' (encode it as %40)")
    lowered = raw_path.lower()
    if any(code in lowered for code in ("%2f", "%5c")):
        raise UnsafePath("the path must not contain encoded slashes or backslashes")
    if any(code in lowered for code in ("%252e", "%252f", "%255c", "%25%32", "%25%35")):
        raise UnsafePath("the path must not contain double-encoded characters")
    segments = raw_path.split("/")
    if ":" in unquote(segments[0]):
        raise UnsafePath("the path must be relative to the app's API, not an absolute URL")
    for index, segment in enumerate(segments):
        if segment == "" and index < len(segments) - 1:
            raise UnsafePath("the path must not contain empty segments ('//')")
        if unquote(segment) in (".", ".."):
            raise UnsafePath("the path must not contain '.' or '..' segments")


def target_url(*, api_base: str, raw_path: str, raw_query: str, auth_query: dict[str, str]) -> str:
    """The app URL a proxied call goes to: the checked path joined below ``api_base``, the
    query as sent (the connection's credential parameters, when the app takes them in the
    query, replacing any of the same name). UnsafePath when the result would leave the base."""
    check_path(raw_path)
    url = api_base.rstrip("/") + "/" + raw_path
    parts, base = urlsplit(url), urlsplit(api_base)
    base_path = base.path.rstrip("/")
    path = posixpath.normpath(unquote(parts.path)) if parts.path else "/"
    if origin(url) != origin(api_base) or not (path + "/").startswith(base_path + "/"):
        raise UnsafePath("the path leads outside the app's API")
    query = raw_query
    if auth_query:
        kept = [
            (k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k not in auth_query
        ]
        query = urlencode([*kept, *auth_query.items()])
    return f"{url}?{query}" if query else url


def _named_by_connection(headers: Iterable[tuple[str, str]]) -> set[str]:
    """The header names a ``Connection`` header lists (hop-by-hop for this message)."""
    return {
        name.strip().lower()
        for key, value in headers
        if key.lower() == "connection"
        for name in value.split(",")
    }


def request_headers(
    headers: list[tuple[str, str]], credentials: dict[str, str]
) -> list[tuple[str, str]]:
    """The caller's headers as they go to the app: without hop-by-hop ones, Linkport's
    credentials and cookies, ``Host`` and ``Linkport-*``; the connection's ``credentials``
    added (replacing any header of the same name). Without an ``Accept-Encoding`` the app is
    asked for no encoding (the body is passed on as the app sends it)."""
    dropped = _REQUEST_DROPPED | _named_by_connection(headers) | {k.lower() for k in credentials}
    kept = [
        (k, v)
        for k, v in headers
        if k.lower() not in dropped and not k.lower().startswith("linkport-")
    ]
    if not any(k.lower() == "accept-encoding" for k, _ in kept):
        kept.append(("Accept-Encoding", "identity"))
    return [*kept, *credentials.items()]


def response_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The app's answer headers as they go back: without hop-by-hop ones, cookies, CORS,
    HSTS and Alt-Svc (all about the app's origin, not Linkport's), nor its request id."""
    dropped = _RESPONSE_DROPPED | _named_by_connection(headers)
    return [
        (k, v)
        for k, v in headers
        if k.lower() not in dropped and not k.lower().startswith("access-control-")
    ]


def needs_reauthorisation(status: str) -> ApiError:
    """The 409 for a connection that cannot be used until its user re-authorises it."""
    return ApiError(
        ErrorCode.CONFLICT,
        f"the connection is {status}: its user must re-authorise it (a Link flow in update "
        "mode) before calls can go through it",
        field=CONNECTION_HEADER,
    )


async def open_connection(
    *, pool: Pool, catalog: Catalog, tenant: Tenant, connection_id: uuid.UUID
) -> tuple[StoredConnection, App]:
    """The tenant's connection a proxied call goes through, and its app: 404 when the tenant
    has no such connection, 409 when it is not active, 400 when its app has no API."""
    stored = await store.get_connection(pool, tenant=tenant, connection_id=connection_id)
    if stored is None:
        raise not_found("connection", field=CONNECTION_HEADER)
    if stored.connection.status != ConnectionStatus.ACTIVE:
        raise needs_reauthorisation(stored.connection.status)
    app = catalog.get(stored.connection.app)
    if app is None or not app.api_base_url:
        raise ApiError(
            ErrorCode.BAD_REQUEST,
            f"the app {stored.connection.app} has no API Linkport can call",
            field=CONNECTION_HEADER,
        )
    return stored, app


def api_base(app: App, stored: StoredConnection, *, base_url: str) -> str:
    """The app's API base for this connection (its fields filled in): 409 when the
    connection lacks a field the base needs."""
    assert app.api_base_url is not None
    filled = fill(app.api_base_url, base_url=base_url, fields=stored.connection.fields)
    if "{" in filled:
        raise ApiError(
            ErrorCode.CONFLICT,
            "the connection lacks a field its app's API address needs; connect it again",
            field=CONNECTION_HEADER,
        )
    return filled


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx`` for the proxy metric, ``error`` when the app did not answer."""
    return f"{status // 100}xx" if status is not None and 100 <= status < 600 else "error"


def _refreshable(app: App, creds: dict[str, Any]) -> bool:
    return bool(creds.get("refresh_token")) and app.oauth is not None and app.oauth.refresh


async def _credentials(
    source: CredentialSource,
    stored: StoredConnection,
    *,
    app: App,
    rejected_token: str | None = None,
) -> dict[str, Any]:
    """The connection's credentials fit to use now (refreshed when near expiry, or when the
    app just refused ``rejected_token``), failures as the proxy answers them."""
    try:
        return await current_credentials(
            source,
            tenant=stored.tenant,
            connection_id=stored.id,
            rejected_token=rejected_token,
            loaded=None if rejected_token else stored,
        )
    except ReauthorizationNeeded:
        raise needs_reauthorisation(ConnectionStatus.NEEDS_REAUTH) from None
    except OAuthError as exc:
        raise ApiError(
            ErrorCode.BAD_GATEWAY, f"{app.name} did not refresh the connection's token ({exc.code})"
        ) from None
    except TimeoutError:
        raise ApiError(
            ErrorCode.SERVICE_UNAVAILABLE, "the connection's token is being refreshed; retry"
        ) from None


@contextlib.asynccontextmanager
async def forward(
    *, source: CredentialSource, stored: StoredConnection, app: App, call: ProxyCall
) -> AsyncIterator[StreamedResponse]:
    """Send ``call`` to the connection's app and hand over its answer while the body streams.

    400 for a path that would leave the app's API (nothing is sent), 409 when the connection
    needs re-authorising, 502 when the app cannot be reached (or Linkport may not call its
    address), 504 when it does not answer in time. A 401 from the app with a refreshable
    token: refreshed once and sent once more; refused again, the connection needs
    re-authorising (``connection.needs_reauth`` is announced) and the 401 is passed on."""
    base = api_base(app, stored, base_url=source.settings.base_url)
    try:
        check_path(call.raw_path)
    except UnsafePath as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc), field="path") from None
    from_catalog = not has_user_fields(app.api_base_url or "")
    creds = await _credentials(source, stored, app=app)
    status: int | None = None
    try:
        for attempt in (1, 2):
            auth = request_credentials(app, creds, stored.connection.fields)
            try:
                url = target_url(
                    api_base=base,
                    raw_path=call.raw_path,
                    raw_query=call.raw_query,
                    auth_query=auth.query,
                )
            except UnsafePath as exc:
                raise ApiError(ErrorCode.BAD_REQUEST, str(exc), field="path") from None
            headers = request_headers(call.headers, auth.headers)
            async with _upstream(source, app, call, url, headers, from_catalog) as reply:
                if not (reply.status == 401 and attempt == 1 and _refreshable(app, creds)):
                    status = reply.status
                    if status == 401 and attempt == 2:  # refused even a fresh token
                        await mark_needs_reauth(
                            source.pool,
                            connection=stored,
                            reason="the app refused a freshly refreshed token (401)",
                        )
                    yield reply
                    return
            # The app refused the token: refresh it (its answer released) and send once more.
            rejected = creds.get("access_token")
            creds = await _credentials(source, stored, app=app, rejected_token=rejected)
    finally:
        metrics.PROXY_REQUESTS.labels(app.slug, status_class(status)).inc()


@contextlib.asynccontextmanager
async def _upstream(
    source: CredentialSource,
    app: App,
    call: ProxyCall,
    url: str,
    headers: list[tuple[str, str]],
    from_catalog: bool,
) -> AsyncIterator[StreamedResponse]:
    """One call to the app, its failures to connect as 502/504 (never naming the URL: its
    query may carry the connection's key). Failures while the body streams are the caller's."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            reply = await stack.enter_async_context(
                source.http.stream(
                    call.method, url, headers=headers, data=call.body, from_catalog=from_catalog
                )
            )
        except BlockedDestination:
            raise ApiError(
                ErrorCode.BAD_GATEWAY, f"Linkport may not call {app.name}'s API at that address"
            ) from None
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors too
            raise ApiError(
                ErrorCode.GATEWAY_TIMEOUT, f"{app.name} did not answer in time"
            ) from None
        except (aiohttp.ClientError, OSError):
            raise ApiError(ErrorCode.BAD_GATEWAY, f"could not reach {app.name}'s API") from None
        yield reply
