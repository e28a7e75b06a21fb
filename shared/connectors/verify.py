"""Checking a key-based app's credentials before a connection is saved (the catalog's
``verify`` call).

A minimal version written against the agreed signature; the proxy work owns this module
and may replace it.
"""

from __future__ import annotations

from typing import Any

from shared.connectors.auth import request_credentials
from shared.connectors.catalog import App, fill, has_user_fields
from shared.connectors.oauth import with_query
from shared.infra.outbound import OutboundClient


class VerificationFailed(Exception):
    """The app refused the credentials (401/403 to the verify call)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def verify_credentials(
    *,
    http: OutboundClient,
    app: App,
    credentials: dict[str, Any],
    fields: dict[str, str],
    base_url: str,
) -> None:
    """Make the app's verify call with the credentials: VerificationFailed on 401/403,
    ConnectionError on another non-2xx answer, the client's errors when unreachable. An
    app without a verify call or API base URL is taken on trust."""
    if app.verify is None or not app.api_base_url:
        return
    base = fill(app.api_base_url, base_url=base_url, fields=fields)
    auth = request_credentials(app, credentials, fields)
    url = base.rstrip("/") + "/" + app.verify.path.lstrip("/")
    if auth.query:
        url = with_query(url, auth.query)
    reply = await http.request(
        app.verify.method,
        url,
        headers=auth.headers,
        from_catalog=not has_user_fields(app.api_base_url),
    )
    if reply.status in (401, 403):
        raise VerificationFailed(f"{app.name} rejected the credentials ({reply.status})")
    if not 200 <= reply.status < 300:
        raise ConnectionError(f"{app.name} answered {reply.status} to the verification call")
