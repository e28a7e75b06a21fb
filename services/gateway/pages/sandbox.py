"""The sandbox provider's routes: its OAuth2 authorize page and token endpoint, and its API."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

import orjson
from aiohttp import web

from services.gateway.appkeys import RESOURCES
from services.gateway.templating import render
from shared.connectors.oauth import with_query
from shared.connectors.sandbox import provider as sandbox

routes = web.RouteTableDef()

_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


def _json(reply: sandbox.SandboxReply) -> web.Response:
    return web.Response(
        body=orjson.dumps(reply.body),
        status=reply.status,
        content_type="application/json",
        headers={**reply.headers, "Cache-Control": "no-store"},
    )


def _authorize_problem(request: web.Request, params: dict[str, str]) -> str | None:
    res = request.app[RESOURCES]
    if params.get("redirect_uri") != sandbox.registered_redirect_uri(settings=res.settings):
        return "redirect_uri is not registered with the sandbox"
    if params.get("response_type") != "code":
        return "response_type must be code"
    if not params.get("client_id"):
        return "client_id is required"
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return "only the S256 code_challenge_method is supported"
    return None


def _bad_request(problem: str) -> web.Response:
    return render(
        "error.html",
        status=400,
        title="Sandbox: bad request",
        code="invalid_request",
        message=problem,
    )


@routes.get("/sandbox/oauth/authorize")
async def authorize_page(request: web.Request) -> web.Response:
    """The sandbox's consent screen: a login form."""
    params = {k: request.query[k] for k in _AUTHORIZE_PARAMS if k in request.query}
    problem = _authorize_problem(request, params)
    if problem:  # never redirect to an unregistered URI
        return _bad_request(problem)
    return render(
        "sandbox_login.html",
        params=params,
        client_id=params["client_id"],
        scope=params.get("scope", ""),
        error=None,
        username="",
    )


@routes.post("/sandbox/oauth/authorize")
async def authorize_submit(request: web.Request) -> web.StreamResponse:
    """Sign in and allow (a code goes back to the redirect URI), or deny (``access_denied``)."""
    res = request.app[RESOURCES]
    form = await request.post()
    params = {k: str(form[k]) for k in _AUTHORIZE_PARAMS if k in form}
    problem = _authorize_problem(request, params)
    if problem:
        return _bad_request(problem)
    back = {"state": params["state"]} if params.get("state") else {}
    if form.get("action") == "cancel":
        raise web.HTTPSeeOther(
            with_query(params["redirect_uri"], {"error": "access_denied", **back})
        )
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if not sandbox.valid_login(username, password):
        return render(
            "sandbox_login.html",
            status=401,
            params=params,
            client_id=params["client_id"],
            scope=params.get("scope", ""),
            error="Wrong username or password.",
            username=username,
        )
    code = await sandbox.issue_code(
        redis=res.redis,
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        scopes=params.get("scope", "").split(),
        code_challenge=params.get("code_challenge"),
        username=username,
    )
    raise web.HTTPSeeOther(with_query(params["redirect_uri"], {"code": code, **back}))


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)


@routes.post("/sandbox/oauth/token")
async def token(request: web.Request) -> web.Response:
    """The token endpoint (form-encoded, client authentication by HTTP Basic or form fields)."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    client_id, secret = _basic_auth(request.headers.get("Authorization"))
    res = request.app[RESOURCES]
    reply = await sandbox.token_endpoint(
        pool=res.pool,
        redis=res.redis,
        settings=res.settings,
        form=form,
        client_id=client_id,
        client_secret=secret,
    )
    return _json(reply)


@routes.route("*", "/sandbox/api/{path:.*}")
async def api(request: web.Request) -> web.Response:
    """The sandbox API (``/me``, ``/contacts``), behind its bearer tokens."""
    body: Any = None
    raw = await request.read()
    if raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _json(
                sandbox.SandboxReply(
                    400, {"error": "invalid_json", "error_description": "body is not JSON"}
                )
            )
    reply = await sandbox.api_call(
        pool=request.app[RESOURCES].pool,
        method=request.method,
        path="/" + request.match_info["path"],
        authorization=request.headers.get("Authorization"),
        body=body,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return _json(reply)
