"""What an action is, what it is given, and how it fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson
from pydantic import BaseModel

from shared.connectors.auth import request_credentials
from shared.connectors.catalog import App
from shared.connectors.oauth import with_query
from shared.infra.outbound import OutboundClient, OutboundResponse

FailureKind = Literal["retryable", "unauthorized", "fatal"]


class ActionError(Exception):
    """A failed call: retryable (network, timeout, 429, 5xx), unauthorized (401), or fatal."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        """The error as stored in history."""
        return {"kind": self.kind, "message": str(self), "status": self.status}


@dataclass(frozen=True)
class ActionContext:
    """What an action may use: the connection's credentials, its API base, a key for idempotency.

    ``from_catalog``: the API base comes from the catalog alone, so calls to it may reach
    Linkport's own origin (the sandbox app); any other URL goes through the full guard.
    ``app``: the catalog app, whose auth kind says how credentials go on calls.
    ``fields``: the connection's public fields (an instance URL, a realm id, a team id…)."""

    credentials: dict[str, Any] = field(repr=False)
    api_base_url: str | None
    idempotency_key: str
    client: OutboundClient
    from_catalog: bool = False
    app: App | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def with_credentials(self, credentials: dict[str, Any]) -> ActionContext:
        """The same context with refreshed credentials."""
        return replace(self, credentials=credentials)

    async def call_api(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        data: dict[str, str] | bytes | None = None,
    ) -> OutboundResponse:
        """Call the app's API at ``path`` below its base URL (an absolute ``path`` is refused),
        with the connection's credentials and the step's Idempotency-Key added."""
        if not self.api_base_url:
            raise ActionError("fatal", "the app has no API base URL")
        if "://" in path or path.startswith("//"):
            raise ActionError("fatal", "an action path must be relative to the app's API")
        auth = request_credentials(self.app, self.credentials, self.fields)
        url = self.api_base_url.rstrip("/") + "/" + path.lstrip("/")
        query = {**(params or {}), **auth.query}
        if query:
            url = with_query(url, query)
        sent = {"Idempotency-Key": self.idempotency_key, **auth.headers, **(headers or {})}
        return await self.client.request(
            method, url, headers=sent, json=json, data=data, from_catalog=self.from_catalog
        )


@dataclass(frozen=True)
class Action:
    """A named, typed call into an app (``app`` None: usable in any workflow).

    ``name`` is ``<app slug>.<verb_noun>`` (``hubspot.create_contact``); ``description`` is
    one line for the catalog; ``input_model`` is the step's ``input`` (its JSON Schema is
    published in ``GET /v1/catalog``); ``run`` returns the JSON the step outputs."""

    name: str
    app: str | None
    input_model: type[BaseModel]
    run: Callable[[ActionContext, Any], Awaitable[Any]]
    description: str = ""


def bearer_headers(ctx: ActionContext) -> dict[str, str]:
    """Authorization for an OAuth2 connection, and the step's idempotency key."""
    headers = {"Idempotency-Key": ctx.idempotency_key}
    token = ctx.credentials.get("access_token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def result_of(response: OutboundResponse) -> Any:
    """The parsed body of a successful response, or the ActionError its status means."""
    if response.status == 401:
        raise ActionError("unauthorized", "the app refused the credentials (401)", status=401)
    if response.status == 429:
        raise ActionError(
            "retryable",
            "the app is rate limiting (429)",
            status=429,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    if response.status >= 500:
        raise ActionError(
            "retryable", f"the app failed ({response.status})", status=response.status
        )
    try:
        body: Any = orjson.loads(response.body) if response.body else None
    except orjson.JSONDecodeError:
        body = response.body.decode(errors="replace")[:2000]
    if response.status >= 400:
        raise ActionError(
            "fatal",
            f"the app rejected the call ({response.status}): {str(body)[:500]}",
            status=response.status,
        )
    return body
