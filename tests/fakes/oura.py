"""A fake Oura: its OAuth2 authorization-code flow and one API route, as Oura documents them
(https://cloud.ouraring.com/docs/authentication; /work/notes/providers/oura.toml).

``/oauth/authorize`` checks the request and consents at once (no login page): it redirects
to ``redirect_uri`` with ``code``, ``state`` and the granted ``scope``. ``/oauth/token`` takes
the ``authorization_code`` and ``refresh_token`` grants with the client's id and secret in the
form (``client_secret_post``, not HTTP Basic); codes and refresh tokens work once (refresh
tokens rotate); a bad one is ``400 {"error": "invalid_grant"}``. ``/v2/usercollection/
personal_info`` answers a valid bearer token. Every request is recorded."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from tests.fakes.server import FakeServer

SCOPES = frozenset({"email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2"})
ACCESS_TOKEN_TTL = 86400


@dataclass(frozen=True)
class Received:
    """One request the fake answered: its path, query or form, and Authorization header."""

    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str


class FakeOura(FakeServer):
    """Oura for one registered OAuth application (its id, secret and redirect URIs)."""

    def __init__(
        self,
        *,
        client_id: str = "oura-client-id",
        client_secret: str = "oura-client-secret",
        redirect_uris: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris or [])
        self.authorize_requests: list[Received] = []
        self.token_requests: list[Received] = []
        self.api_requests: list[Received] = []
        self._codes: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _Grant] = {}

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/oauth/authorize", self._authorize)
        router.add_post("/oauth/token", self._token)
        router.add_get("/v2/usercollection/personal_info", self._personal_info)

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.authorize_requests.append(
            Received(request.path, query, request.headers.get("Authorization"))
        )
        # Before the redirect URI is trusted, errors are shown, not redirected (RFC 6749 §4.1.2.1).
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return web.Response(status=400, text="redirect_uri is not registered")
        back = web.HTTPFound
        if query.get("response_type") != "code":
            raise back(_with(redirect_uri, error="unsupported_response_type", **_state(query)))
        scopes = query.get("scope", "").split(" ")
        if not query.get("state"):
            raise back(_with(redirect_uri, error="invalid_request"))
        if not all(s in SCOPES for s in scopes):
            raise back(_with(redirect_uri, error="invalid_scope", **_state(query)))
        code = secrets.token_urlsafe(16)
        scope = " ".join(scopes)
        self._codes[code] = _Grant(self.client_id, redirect_uri, scope)
        raise back(_with(redirect_uri, code=code, scope=scope, **_state(query)))

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.token_requests.append(
            Received(request.path, form, request.headers.get("Authorization"))
        )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _error(401, "invalid_client")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                return _error(400, "invalid_grant")
        elif grant_type == "refresh_token":
            grant = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None:
                return _error(400, "invalid_grant")
        else:
            return _error(400, "unsupported_grant_type")
        access_token, refresh_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant
        self._refresh_tokens[refresh_token] = grant
        return web.json_response(
            {
                "access_token": access_token,
                "refresh_token": refresh_token,
                "expires_in": ACCESS_TOKEN_TTL,
                "token_type": "bearer",
                "scope": grant.scope,
            }
        )

    async def _personal_info(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        self.api_requests.append(Received(request.path, dict(request.query), authorization))
        scheme, _, token = (authorization or "").partition(" ")
        grant = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None:
            return web.json_response({"detail": "Invalid or expired access token"}, status=401)
        if "personal" not in grant.scope.split(" "):
            return web.json_response({"detail": "The personal scope was not granted"}, status=403)
        return web.json_response(
            {
                "id": "8f9a5221-639e-4a85-81cb-4065ef23f979",
                "age": 31,
                "weight": 74.8,
                "height": 1.8,
                "biological_sex": "male",
                "email": "ring.owner@example.com",
            }
        )

    def valid_access_token(self, token: str) -> bool:
        """Whether the fake issued this access token."""
        return token in self._access_tokens


def _state(query: dict[str, str]) -> dict[str, str]:
    return {"state": query["state"]} if query.get("state") else {}


def _with(url: str, **params: str) -> str:
    return str(URL(url).update_query(params))


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)
