"""Fakes of catalog apps' APIs: one module per app, named after its slug (``hubspot.py``).

Each module exports ``add_routes(routes: web.RouteTableDef, prefix: str, state: AppState)``
and adds that app's API routes below ``prefix`` (``/{slug}/api``), each at the path the real
API uses below its host: HubSpot's ``https://api.hubapi.com/crm/v3/objects/contacts`` is
``{prefix}/crm/v3/objects/contacts``. Handlers check credentials with ``state.authorized``
(answering the provider's own 401 shape otherwise), record each call with ``state.record``,
validate the payload as the provider does (its 400/422 shape on a bad one), and answer the
provider's documented response shape.

:class:`AppApis` serves every module at once (``tests/fakes/providers`` builds on it with the
OAuth side: tokens it issues become valid here)."""

from __future__ import annotations

import base64
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer


@dataclass(frozen=True)
class Recorded:
    """One API call a fake answered."""

    method: str
    path: str  # below the prefix, as the real API sees it
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, a form as a dict, or raw text


@dataclass
class AppState:
    """One app's fake API: which credentials it accepts, what it received, what it holds."""

    slug: str
    prefix: str
    # Accepted bearer tokens, API keys, or "user:password" pairs for HTTP Basic.
    valid_credentials: set[str] = field(default_factory=set)
    calls: list[Recorded] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def credential(self, request: web.Request, *, query_param: str | None = None) -> str | None:
        """What the request authenticates with: a bearer token, the Basic pair, another
        header's value (``X-…`` headers), or ``query_param``."""
        if query_param is not None and query_param in request.query:
            return request.query[query_param]
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode()
            except ValueError:
                return None
        return header or None

    def authorized(self, request: web.Request, *, query_param: str | None = None) -> bool:
        """Whether the request carries credentials this fake accepts."""
        return self.credential(request, query_param=query_param) in self.valid_credentials

    async def record(self, request: web.Request) -> Recorded:
        """Remember the call (its body parsed) and return it."""
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                body = await request.json()
            elif request.content_type == "application/x-www-form-urlencoded":
                body = dict(await request.post())
            else:
                body = raw.decode(errors="replace")
        call = Recorded(
            method=request.method,
            path=request.path.removeprefix(self.prefix),
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
        )
        self.calls.append(call)
        return call


def app_modules() -> dict[str, Any]:
    """Every app API fake module, by slug."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        found[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return found


class AppApis(FakeServer):
    """Every faked app API on one server, each below ``/{slug}/api``."""

    def __init__(self, slugs: list[str] | None = None) -> None:
        super().__init__()
        modules = app_modules()
        self.modules = {s: modules[s] for s in (slugs or sorted(modules))}
        self.apps = {s: AppState(slug=s, prefix=f"/{s}/api") for s in self.modules}

    def api_url(self, slug: str) -> str:
        """Where ``slug``'s API host is faked (put in place of ``https://host``)."""
        return f"{self.url}/{slug}/api"

    def routes(self, router: web.UrlDispatcher) -> None:
        table = web.RouteTableDef()
        for slug, module in self.modules.items():
            module.add_routes(table, self.apps[slug].prefix, self.apps[slug])
        router.add_routes(table)
