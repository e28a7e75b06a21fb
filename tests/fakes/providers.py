"""A generic fake OAuth2 provider for every catalog app, driven by the app's own ``OAuthSpec``.

:class:`FakeProviders` serves, on one server, every app API fake of ``tests/fakes/apps``
(below ``/{slug}/api``) and, for each OAuth2 app of the catalog it is given:

- ``GET /{slug}/oauth/authorize``: checks ``response_type=code``, the client id, the exact
  registered redirect URI and a state (errors shown, not redirected, until the redirect URI
  is trusted: RFC 6749 §4.1.2.1), then scopes joined by the app's ``scope_separator`` and
  within its scopes, PKCE S256 present exactly when the app uses PKCE, and the app's
  ``authorization_params``; consents at once and redirects with ``code``, ``state`` and the
  app's ``callback_fields`` parameters.
- ``POST /{slug}/oauth/token``: the client authenticated exactly per ``token_auth`` (the other
  method is ``401 {"error": "invalid_client"}``), a form or JSON per ``token_request_format``,
  the ``token_params`` present; codes single-use and bound to their redirect URI and PKCE
  challenge; refresh tokens single-use when the app's ``refresh_rotates``. Answers are wrapped
  per ``token_response_path`` and carry the app's ``token_fields`` and account id; refusals
  are in the app's own style (:data:`ERROR_STYLES`).
- ``/{slug}/oauth/revoke``: RFC 7009 and the catalog's variants (``revoke_method``,
  ``revoke_param``, ``revoke_request_format``, ``{token}`` in the path); recorded.
- With ``smart[slug] = True``: ``{any FHIR base below /{slug}/api}/.well-known/
  smart-configuration`` naming ``/{slug}/smart/…`` endpoints (the same handlers, counted
  apart, so a test sees the discovered ones were used).

Access tokens it issues are added to ``apps[slug].valid_credentials``, so the app API fakes
accept them. :func:`rewrite_catalog` writes the operator override TOMLs pointing every app's
hosts at the fake (for ``LINKPORT_CATALOG_OVERRIDES``).
"""

from __future__ import annotations

import base64
import collections
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus, urlsplit

from aiohttp import web
from yarl import URL

from shared.connectors.catalog import App, Catalog, OAuthSpec
from shared.connectors.oauth import s256
from tests.fakes.apps import AppApis, AppState

ErrorStyle = Literal["rfc6749", "ok_false", "error_200", "envelope"]
# How an app says no at its token endpoint when its TOML alone cannot tell: Slack answers
# HTTP 200 {"ok": false, "error": "invalid_code"}, GitHub HTTP 200 {"error": "…"}. Apps with a
# token_response_path answer an envelope error (Withings: {"status": 601, "error": "…"});
# every other app RFC 6749's 400 {"error": "invalid_grant"}.
ERROR_STYLES: dict[str, ErrorStyle] = {"slack": "ok_false", "github": "error_200"}
ACCESS_TOKEN_TTL = 3600


@dataclass(frozen=True)
class Received:
    """One OAuth request the fake answered."""

    slug: str
    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass
class _Grant:
    slug: str
    redirect_uri: str
    scope: str
    challenge: str | None
    account_id: str


@dataclass
class ProviderState:
    """One app's OAuth side: what it received and what it issued."""

    authorize_requests: list[Received] = field(default_factory=list)
    token_requests: list[Received] = field(default_factory=list)
    revocations: list[Received] = field(default_factory=list)
    # Token calls per grant type ("authorization_code", "refresh_token").
    token_calls: collections.Counter[str] = field(default_factory=collections.Counter)
    # Token calls to the SMART-discovered endpoint (not the catalog's).
    discovered_token_calls: int = 0
    codes: dict[str, _Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, _Grant] = field(default_factory=dict)
    issued_refresh_tokens: list[str] = field(default_factory=list)
    # Token-answer fields to give instead of the usual ones (a Salesforce org that moved).
    token_field_overrides: dict[str, str] = field(default_factory=dict)


class FakeProviders(AppApis):
    """Every catalog OAuth2 app's provider, plus every app API fake, on one server."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-s3cret",
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris: list[str] = []
        self.oauth_apps = {
            app.slug: app for app in catalog if app.oauth is not None and _faked(app)
        }
        for slug in self.oauth_apps:
            self.apps.setdefault(slug, AppState(slug=slug, prefix=f"/{slug}/api"))
        self.providers = {slug: ProviderState() for slug in self.oauth_apps}
        # Apps whose FHIR server publishes a SMART configuration (others answer 404).
        self.smart: dict[str, bool] = {}
        # Keys replacing the published SMART configuration's (a server without S256…).
        self.smart_overrides: dict[str, dict[str, Any]] = {}
        self.error_styles: dict[str, ErrorStyle] = dict(ERROR_STYLES)
        self._accounts = 0

    def routes(self, router: web.UrlDispatcher) -> None:
        super().routes(router)
        for slug in self.oauth_apps:
            for kind in ("oauth", "smart"):
                router.add_get(f"/{slug}/{kind}/authorize", self._authorize)
                router.add_post(f"/{slug}/{kind}/token", self._token)
                # Any method, the token in the path, query, form or JSON body (revoke_* quirks).
                router.add_route("*", f"/{slug}/{kind}/revoke{{token:(/[^/]+)?}}", self._revoke)
            router.add_get(
                f"/{slug}/api{{base:.*}}/.well-known/smart-configuration", self._smart_configuration
            )

    def error_style(self, slug: str) -> ErrorStyle:
        """How ``slug`` refuses a bad code or refresh token."""
        spec = self._spec(slug)
        if spec.token_response_path:
            return "envelope"
        return self.error_styles.get(slug, "rfc6749")

    def state(self, slug: str) -> ProviderState:
        """The OAuth side of one app."""
        return self.providers[slug]

    def _slug(self, request: web.Request) -> str:
        return request.path.split("/")[1]

    def _spec(self, slug: str) -> OAuthSpec:
        spec = self.oauth_apps[slug].oauth
        assert spec is not None
        return spec

    async def _smart_configuration(self, request: web.Request) -> web.Response:
        slug = self._slug(request)
        if not self.smart.get(slug):
            return web.json_response({"error": "not found"}, status=404)
        root = f"{self.url}/{slug}/smart"
        return web.json_response(
            {
                "issuer": f"{self.url}/{slug}/api{request.match_info['base']}",
                "authorization_endpoint": f"{root}/authorize",
                "token_endpoint": f"{root}/token",
                "revocation_endpoint": f"{root}/revoke",
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-standalone", "client-confidential-symmetric"],
                **self.smart_overrides.get(slug, {}),
            }
        )

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        slug = self._slug(request)
        spec = self._spec(slug)
        query = dict(request.query)
        provider = self.providers[slug]
        provider.authorize_requests.append(
            Received(slug, request.path, query, request.headers.get("Authorization"))
        )
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return web.Response(status=400, text="redirect_uri is not registered")
        if not query.get("state"):
            return web.Response(status=400, text="state is required")
        back = web.HTTPFound
        state = query["state"]
        if query.get("response_type") != "code":
            raise back(_with(redirect_uri, error="unsupported_response_type", state=state))
        scopes = [s for s in query.get("scope", "").split(spec.scope_separator) if s]
        # Scopes within the app's; none at all only for apps that define none (Notion).
        if not set(scopes) <= set(spec.scopes) or (spec.scopes and not scopes):
            raise back(_with(redirect_uri, error="invalid_scope", state=state))
        challenge = query.get("code_challenge")
        if spec.pkce != (challenge is not None) or (
            challenge is not None and query.get("code_challenge_method") != "S256"
        ):
            raise back(_with(redirect_uri, error="invalid_request", state=state))
        for key, value in spec.authorization_params.items():
            if ("{" not in value and query.get(key) != value) or not query.get(key):
                raise back(_with(redirect_uri, error="invalid_request", state=state))
        if spec.smart_discovery and not query.get("aud", "").startswith(self.url):
            raise back(_with(redirect_uri, error="invalid_request", state=state))
        code = secrets.token_urlsafe(16)
        self._accounts += 1
        provider.codes[code] = _Grant(
            slug, redirect_uri, " ".join(scopes), challenge, f"acct-{slug}-{self._accounts}"
        )
        extra = {param: f"fake-{key}" for key, param in spec.callback_fields.items()}
        raise back(_with(redirect_uri, code=code, state=state, **extra))

    async def _token(self, request: web.Request) -> web.Response:
        slug = self._slug(request)
        spec = self._spec(slug)
        provider = self.providers[slug]
        if request.path.startswith(f"/{slug}/smart/"):
            provider.discovered_token_calls += 1
        authorization = request.headers.get("Authorization")
        params: dict[str, str]
        if spec.token_request_format == "json":
            if request.content_type != "application/json":
                return _rfc_error(400, "invalid_request")
            body = await request.json()
            params = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        else:
            if request.content_type != "application/x-www-form-urlencoded":
                return _rfc_error(400, "invalid_request")
            params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        provider.token_requests.append(Received(slug, request.path, params, authorization))
        if not self._client_authenticated(spec, params, authorization):
            return _rfc_error(401, "invalid_client")
        for key, value in spec.token_params.items():
            if not params.get(key) or ("{" not in value and params[key] != value):
                return _rfc_error(400, "invalid_request")
        grant_type = params.get("grant_type", "")
        provider.token_calls[grant_type] += 1
        if grant_type == "authorization_code":
            grant = provider.codes.pop(params.get("code", ""), None)
            if grant is None or grant.redirect_uri != params.get("redirect_uri"):
                return self._refusal(slug, "invalid_grant")
            verifier = params.get("code_verifier")
            if (grant.challenge is None) != (verifier is None) or (
                verifier is not None and s256(verifier) != grant.challenge
            ):
                return self._refusal(slug, "invalid_grant")
        elif grant_type == "refresh_token" and spec.refresh:
            token = params.get("refresh_token", "")
            grant = (
                provider.refresh_tokens.pop(token, None)
                if spec.refresh_rotates
                else provider.refresh_tokens.get(token)
            )
            if grant is None:
                return self._refusal(slug, "invalid_grant")
        else:
            return self._refusal(slug, "unsupported_grant_type")
        return web.json_response(self._issue(slug, grant, params.get("refresh_token")))

    def _client_authenticated(
        self, spec: OAuthSpec, params: dict[str, str], authorization: str | None
    ) -> bool:
        if spec.token_auth == "client_secret_post":
            return authorization is None and (
                params.get("client_id"),
                params.get("client_secret"),
            ) == (self.client_id, self.client_secret)
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "basic" or "client_secret" in params:
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return (unquote_plus(user), unquote_plus(password)) == (self.client_id, self.client_secret)

    def _issue(self, slug: str, grant: _Grant, used_refresh: str | None) -> dict[str, Any]:
        spec = self._spec(slug)
        provider = self.providers[slug]
        access_token = secrets.token_urlsafe(24)
        self.apps[slug].valid_credentials.add(access_token)
        tokens: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "scope": grant.scope.replace(" ", spec.scope_separator),
        }
        if spec.refresh and (spec.refresh_rotates or used_refresh is None):
            refresh_token = secrets.token_urlsafe(24)
            provider.refresh_tokens[refresh_token] = grant
            provider.issued_refresh_tokens.append(refresh_token)
            tokens["refresh_token"] = refresh_token
        api_fields = _api_placeholders(self.oauth_apps[slug])
        for key, path in spec.token_fields.items():
            value = f"{self.url}/{slug}/api" if key in api_fields else f"fake-{key}"
            _put(tokens, path, provider.token_field_overrides.get(key, value))
        if spec.account_id_field:
            _put(tokens, spec.account_id_field, grant.account_id)
        if spec.token_response_path:
            wrapped: dict[str, Any] = {"status": 0}
            _put(wrapped, spec.token_response_path, tokens)
            return wrapped
        if self.error_style(slug) == "ok_false":
            return {"ok": True, **tokens}
        return tokens

    def _refusal(self, slug: str, error: str) -> web.Response:
        style = self.error_style(slug)
        if style == "ok_false":
            return web.json_response({"ok": False, "error": "invalid_code"})
        if style == "error_200":
            return web.json_response(
                {"error": "bad_verification_code", "error_description": "The code is incorrect"}
            )
        if style == "envelope":
            return web.json_response({"status": 503, "error": f"Invalid Params: {error}"})
        return _rfc_error(400, error)

    async def _revoke(self, request: web.Request) -> web.Response:
        slug = self._slug(request)
        spec = self._spec(slug)
        provider = self.providers[slug]
        params = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            params |= {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        elif request.can_read_body:
            params |= {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        provider.revocations.append(
            Received(slug, request.path, params, request.headers.get("Authorization"))
        )
        token = request.match_info["token"].lstrip("/") or params.get(spec.revoke_param, "")
        self.apps[slug].valid_credentials.discard(token)
        provider.refresh_tokens.pop(token, None)
        return web.Response(status=200)


def _faked(app: App) -> bool:
    """Whether the app's provider is a third party (not Linkport's own sandbox)."""
    return app.oauth is not None and not app.oauth.authorize_url.startswith("{base_url}")


def _api_placeholders(app: App) -> set[str]:
    """Connection fields that api_base_url starts with (``{instance_url}/…``): a token
    answer's value for such a field must be the fake's API root."""
    base = app.api_base_url or ""
    if base.startswith("{"):
        return {base[1 : base.index("}")]}
    return set()


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        document = document.setdefault(part, {})
    document[parts[-1]] = value


def _with(url: str, **params: str) -> str:
    return str(URL(url).update_query(params))


def _rfc_error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


# --- catalog rewriting (LINKPORT_CATALOG_OVERRIDES) ---


def rewrite_catalog(catalog: Catalog, fake_url: str, folder: Path) -> Path:
    """Write ``folder/<slug>.toml`` for every app with third-party hosts, pointing them at
    the fake: authorize, token and revoke URLs → ``{fake}/{slug}/oauth/…``; api_base_url
    ``https://host/path`` → ``{fake}/{slug}/api/path`` (one starting with a connection field
    placeholder, such as ``{instance_url}/…``, is kept). Returns ``folder``."""
    for app in catalog:
        if (app.api_base_url or "").startswith("{base_url}") or not (
            app.oauth is None or _faked(app)
        ):
            continue
        data = app.model_dump(mode="json", exclude={"slug"}, exclude_none=True)
        if app.api_base_url and not app.api_base_url.startswith("{"):
            data["api_base_url"] = f"{fake_url}/{app.slug}/api" + _path(app.api_base_url)
        if app.oauth is not None:
            oauth = data["oauth"]
            oauth["authorize_url"] = f"{fake_url}/{app.slug}/oauth/authorize"
            oauth["token_url"] = f"{fake_url}/{app.slug}/oauth/token"
            if app.oauth.revoke_url:
                in_path = "/{token}" if "{token}" in app.oauth.revoke_url else ""
                oauth["revoke_url"] = f"{fake_url}/{app.slug}/oauth/revoke{in_path}"
        (folder / f"{app.slug}.toml").write_text(_toml(data))
    return folder


def _path(url: str) -> str:
    """A URL's path (and query), its scheme and host dropped."""
    parts = urlsplit(url)
    return parts.path.rstrip("/") + (f"?{parts.query}" if parts.query else "")


def _toml(data: dict[str, Any]) -> str:
    """A catalog entry as TOML (the few value types an App holds)."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and isinstance(value[0], dict)
        ):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_value(value)}")
    for key, value in tables:
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items())
        else:
            for item in value:
                lines.append(f"\n[[{key}]]")
                lines.extend(
                    f"{json.dumps(k)} = {_value(v)}" for k, v in item.items() if v is not None
                )
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, int | str):
        return json.dumps(value)
    raise TypeError(f"cannot write {value!r} as TOML")
