"""HTML pages: Jinja2 (autoescaped), with a strict Content-Security-Policy per response."""

from __future__ import annotations

import secrets
from typing import Any

import jinja2
from aiohttp import web

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("services.gateway", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def render(name: str, *, status: int = 200, **context: Any) -> web.Response:
    """A rendered page; scripts run only with this response's nonce, nothing may frame it."""
    nonce = secrets.token_urlsafe(16)
    body = _ENV.get_template(name).render(csp_nonce=nonce, **context)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
