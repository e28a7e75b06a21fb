"""Checking a key-based connection's credentials with the app before they are saved.

The catalog's ``verify`` call (a cheap GET below the app's API) is made with the credentials
put on it exactly as every later call puts them (``request_credentials``): any 2xx means the
app accepts them, 401/403 that it refuses them. Nothing about the credentials reaches the
message (it is shown to the end user and may be logged).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from shared.connectors.auth import request_credentials
from shared.connectors.catalog import App, fill, has_user_fields
from shared.connectors.oauth import with_query
from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge

# What a call that got no usable answer raises (the address refused by the guard included).
_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError, BlockedDestination, ResponseTooLarge)


class VerificationFailed(Exception):
    """The app refused the credentials, or could not be asked; ``message`` says which, for
    the end user (it never holds the credentials)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AppUnreachable(VerificationFailed):
    """The app could not be asked (no answer, or an error answer): not a verdict on the
    credentials, so an API caller may retry as they are."""


def _refused(app: App) -> str:
    what = "API key" if app.auth_kind == "api_key" else "username or password"
    return f"the {what} was refused by {app.name}"


async def verify_credentials(
    *,
    http: OutboundClient,
    app: App,
    credentials: dict[str, Any],
    fields: dict[str, str],
    base_url: str,
) -> None:
    """Make ``app``'s verify call with ``credentials`` (the connection's secrets) and
    ``fields`` (its public fields); VerificationFailed unless it answers 2xx. Apps without a
    verify call (or an API base URL) pass unchecked. ``base_url``: this Linkport's origin."""
    if app.verify is None or not app.api_base_url:
        return
    api_base = fill(app.api_base_url, base_url=base_url, fields=fields)
    path = fill(app.verify.path, base_url=base_url, fields=fields)
    url = api_base.rstrip("/") + "/" + path.lstrip("/")
    auth = request_credentials(app, credentials, fields)
    if auth.query:
        url = with_query(url, auth.query)
    try:
        reply = await http.request(
            app.verify.method,
            url,
            headers=auth.headers,
            # A base built from what the user typed goes through the full outbound guard.
            from_catalog=not has_user_fields(app.api_base_url),
        )
    except _UNREACHABLE:
        raise AppUnreachable(f"could not reach {app.name} to check the key") from None
    if reply.status in (401, 403):
        raise VerificationFailed(_refused(app))
    if not 200 <= reply.status < 300:
        raise AppUnreachable(
            f"could not check the key with {app.name} (it answered {reply.status}); try again"
        )
