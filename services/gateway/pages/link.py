"""The hosted Link pages: plain HTML forms and redirects, so it works without JavaScript."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.gateway.appkeys import RESOURCES
from services.gateway.templating import render
from shared.clients import service as client_settings
from shared.connectors.catalog import App
from shared.connectors.verify import VerificationFailed
from shared.grants.models import HostedSession
from shared.link import flow as link_flow
from shared.link.flow import FlowError, Outcome
from shared.link.models import FlowErrorCode
from shared.resources import Resources

COOKIE = "lp_link"
_CSRF_FAILED = FlowError(
    FlowErrorCode.CSRF_FAILED, "This form has expired. Please go back and try again."
)
routes = web.RouteTableDef()


def _error_page(error: FlowError, status: int = 400) -> web.Response:
    return render(
        "error.html",
        status=status,
        title="This link can't be used",
        code=error.code,
        message=error.message,
    )


async def _branding(res: Resources, session: HostedSession) -> dict[str, Any]:
    settings = await client_settings.get_settings(
        pool=res.pool, caches=res.caches, tenant=session.link.tenant
    )
    return {"client_name": settings.name, "color": session.color or settings.color}


def _finish(res: Resources, outcome: Outcome, *, color: str | None = None) -> web.StreamResponse:
    """Send the browser where the flow's outcome says: the client's URL, the SDK opener, or a page."""
    if outcome.redirect_to is not None:
        raise web.HTTPSeeOther(outcome.redirect_to)
    app = res.catalog.get(outcome.app) if outcome.app else None
    if outcome.succeeded:
        message = {
            "source": "linkport",
            "type": "success",
            "public_token": outcome.public_token,
            "metadata": {"app": outcome.app, "connection_id": outcome.connection_id},
        }
    else:
        message = {
            "source": "linkport",
            "type": "exit",
            "error": {"error_code": outcome.error, "error_message": outcome.error_description},
            "metadata": {},
        }
    response = render(
        "link_done.html",
        outcome=outcome,
        message=message,
        app_name=app.name if app else "",
        color=color,
    )
    response.del_cookie(COOKIE, path="/link")
    return response


def _session_id(request: web.Request) -> str | None:
    return request.cookies.get(COOKIE)


@routes.get("/link")
async def open_link(request: web.Request) -> web.StreamResponse:
    """``/link?token=lt_…``: consume the link token once, start a session, show the apps.

    With ``&app={slug}`` (an API's OAuth link for one app, e.g. Vital's ``oauth_url``) it goes
    straight on: to the provider for an OAuth app without fields, else to that app's form."""
    res = request.app[RESOURCES]
    token = request.query.get("token", "")
    try:
        session_id = await link_flow.start_session(
            pool=res.pool,
            redis=res.redis,
            caches=res.caches,
            settings=res.settings,
            link_token=token,
            sdk_origin=request.query.get("origin"),
        )
    except FlowError as error:
        return _error_page(
            error, status=410 if error.code == FlowErrorCode.LINK_TOKEN_INVALID else 400
        )
    # Redirect so the token leaves the address bar, and a reload cannot be mistaken for reuse.
    location = "/link/session"
    if slug := request.query.get("app"):
        try:
            chosen = await _straight_to_app(res, session_id, slug)
        except FlowError as error:  # a SMART server's configuration that cannot be used
            return _error_page(error)
        if isinstance(chosen, Outcome):  # the flow ended already (the app has no OAuth client)
            return _finish(res, chosen)
        location = chosen
    response = web.HTTPSeeOther(location)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=res.settings.hosted_session_ttl,
        path="/link",
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back to the callback
        secure=res.settings.base_url.startswith("https://"),
    )
    raise response


async def _straight_to_app(res: Resources, session_id: str, slug: str) -> str | Outcome:
    """Where a session opened for one app goes: the provider's authorization URL (an OAuth app
    without fields), that app's page, or the picker when the link does not offer it."""
    session = await link_flow.load_session(redis=res.redis, session_id=session_id)
    offered = await link_flow.offered_apps(pool=res.pool, catalog=res.catalog, session=session)
    app = next((a for a in offered if a.slug == slug), None)
    if app is None:
        return "/link/session"
    if app.auth_kind != "oauth2" or app.fields:
        return f"/link/session/apps/{app.slug}"
    return await link_flow.begin_oauth(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        keyring=res.keyring,
        http=res.http,
        settings=res.settings,
        session_id=session_id,
        session=session,
        app=app,
        fields={},
    )


@routes.get("/link/session")
async def show_apps(request: web.Request) -> web.StreamResponse:
    """The app picker (or the one app the token preselects)."""
    res = request.app[RESOURCES]
    try:
        session = await link_flow.load_session(redis=res.redis, session_id=_session_id(request))
    except FlowError as error:
        return _error_page(error)
    offered = await link_flow.offered_apps(pool=res.pool, catalog=res.catalog, session=session)
    branding = await _branding(res, session)
    chosen = link_flow.preselected(session, offered)
    if chosen is not None:
        raise web.HTTPSeeOther(f"/link/session/apps/{chosen.slug}")
    return render(
        "link_apps.html",
        apps=offered,
        csrf=session.csrf,
        display_name=session.display_name,
        **branding,
    )


async def _session_and_app(request: web.Request) -> tuple[Resources, str, HostedSession, App]:
    res = request.app[RESOURCES]
    session_id = _session_id(request)
    session = await link_flow.load_session(redis=res.redis, session_id=session_id)
    assert session_id is not None
    slug = request.match_info["slug"]
    app = next(
        (
            a
            for a in await link_flow.offered_apps(
                pool=res.pool, catalog=res.catalog, session=session
            )
            if a.slug == slug
        ),
        None,
    )
    if app is None:
        raise FlowError(FlowErrorCode.APP_NOT_OFFERED, "That app is not available from this link.")
    return res, session_id, session, app


@routes.get("/link/session/apps/{slug}")
async def app_form(request: web.Request) -> web.StreamResponse:
    """One app: its fields form, or a one-click continue for OAuth apps without fields."""
    try:
        res, _, session, app = await _session_and_app(request)
    except FlowError as error:
        return _error_page(error)
    return render(
        "link_app_form.html",
        app=app,
        csrf=session.csrf,
        values={},
        problems={},
        **await _branding(res, session),
    )


@routes.post("/link/session/apps/{slug}")
async def connect_app(request: web.Request) -> web.StreamResponse:
    """Connect the app: OAuth apps redirect to the provider, key-based apps connect now."""
    try:
        res, session_id, session, app = await _session_and_app(request)
    except FlowError as error:
        return _error_page(error)
    form = await request.post()
    if form.get("csrf") != session.csrf:
        return _error_page(_CSRF_FAILED, 403)
    values = {
        k: v for k, v in form.items() if k not in ("csrf", "submitted") and isinstance(v, str)
    }
    branding = await _branding(res, session)
    if app.fields:
        # The picker's one-click "Connect" shows the fields first; the fields form submits them.
        problems = link_flow.check_fields(app, values) if form.get("submitted") == "1" else None
        if problems is None or problems:
            return render(
                "link_app_form.html",
                app=app,
                csrf=session.csrf,
                values=values,
                problems=problems or {},
                **branding,
            )
    try:
        result = await link_flow.connect_with_form(
            pool=res.pool,
            redis=res.redis,
            caches=res.caches,
            keyring=res.keyring,
            settings=res.settings,
            session_id=session_id,
            http=res.http,
            session=session,
            app=app,
            values=values,
        )
    except FlowError as error:  # e.g. a FHIR server whose SMART configuration is unusable
        return _error_page(error)
    except VerificationFailed as refused:
        if not app.fields:
            return _error_page(FlowError(FlowErrorCode.CREDENTIALS_REFUSED, refused.message))
        # Shown under the secret field (the key), or the first one; the user may try again.
        shown_at = next((f.key for f in app.fields if f.secret), app.fields[0].key)
        return render(
            "link_app_form.html",
            app=app,
            csrf=session.csrf,
            values=values,
            problems={shown_at: refused.message[:1].upper() + refused.message[1:]},
            **branding,
        )
    if isinstance(result, str):
        raise web.HTTPSeeOther(result)
    return _finish(res, result, color=branding["color"])


@routes.post("/link/session/cancel")
async def cancel(request: web.Request) -> web.StreamResponse:
    """The user gave up: tell the client (``error=user_cancelled``)."""
    res = request.app[RESOURCES]
    session_id = _session_id(request)
    try:
        session = await link_flow.load_session(redis=res.redis, session_id=session_id)
    except FlowError as error:
        return _error_page(error)
    assert session_id is not None
    form = await request.post()
    if form.get("csrf") != session.csrf:
        return _error_page(_CSRF_FAILED, 403)
    outcome = await link_flow.fail(
        pool=res.pool,
        redis=res.redis,
        caches=res.caches,
        session_id=session_id,
        session=session,
        code=FlowErrorCode.USER_CANCELLED,
        description="You cancelled.",
    )
    return _finish(res, outcome, color=session.color)


@routes.get("/link/oauth/callback")
async def oauth_callback(request: web.Request) -> web.StreamResponse:
    """The provider sends the browser back here with ``code`` and ``state`` (or ``error``)."""
    res = request.app[RESOURCES]
    try:
        outcome = await link_flow.complete_oauth(
            pool=res.pool,
            redis=res.redis,
            caches=res.caches,
            keyring=res.keyring,
            catalog=res.catalog,
            http=res.http,
            settings=res.settings,
            session_id=_session_id(request),
            state=request.query.get("state", ""),
            code=request.query.get("code"),
            error=request.query.get("error"),
            callback_params=dict(request.query),
        )
    except FlowError as error:
        return _error_page(error)
    return _finish(res, outcome)
