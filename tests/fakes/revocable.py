"""A fake OAuth2 provider for connection lifecycle tests: a token endpoint whose refresh
tokens rotate (RFC 6749 §6: each refresh issues a new refresh token and the old one stops
working), an RFC 7009 revocation endpoint, and one API route.

Clients authenticate at both endpoints by HTTP Basic or by ``client_id``/``client_secret``
in the form (RFC 6749 §2.3.1), as the app's catalog entry says. Errors have the RFC 6749
§5.2 shape ``{"error", "error_description"}``. ``refresh_answer`` makes the token endpoint
refuse refreshes (``invalid_grant``, ``token_revoked``) or fail (``server_error``: a 503);
``revocation_down`` makes the revocation endpoint answer 503. Every request is recorded.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from aiohttp import web

from tests.fakes.server import FakeServer

ACCESS_TOKEN_TTL = 3600
RefreshAnswer = Literal["tokens", "invalid_grant", "token_revoked", "server_error"]


@dataclass(frozen=True)
class Received:
    """One request the fake answered: its path, form, and the client it authenticated as."""

    path: str
    form: dict[str, str]
    client_id: str | None
    basic: bool


@dataclass(frozen=True)
class Issued:
    """Tokens the fake issued for one grant."""

    access_token: str
    refresh_token: str
    expires_in: int


class FakeRevocable(FakeServer):
    """A provider with one registered OAuth client."""

    def __init__(self, *, client_id: str = "lp-client", client_secret: str = "lp-s3cret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_answer: RefreshAnswer = "tokens"
        self.revocation_down = False
        self.token_requests: list[Received] = []
        self.revoke_requests: list[Received] = []
        self.api_requests: list[str | None] = []
        # refresh token → grant id; access token → grant id; grant ids still alive
        self.refresh_tokens: dict[str, str] = {}
        self.access_tokens: dict[str, str] = {}
        self.grants: set[str] = set()

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/oauth/token", self._token)
        router.add_post("/oauth/revoke", self._revoke)
        router.add_get("/api/me", self._me)

    def issue(self, *, expires_in: int = ACCESS_TOKEN_TTL) -> Issued:
        """A new grant's tokens, as an authorization-code exchange would have issued them."""
        grant = secrets.token_hex(8)
        self.grants.add(grant)
        return self._tokens(grant, expires_in)

    def refresh_token_works(self, token: str) -> bool:
        """Whether a refresh with this token would be accepted."""
        return self.refresh_tokens.get(token) in self.grants

    def access_token_works(self, token: str) -> bool:
        """Whether the API accepts this access token."""
        return self.access_tokens.get(token) in self.grants

    def _tokens(self, grant: str, expires_in: int = ACCESS_TOKEN_TTL) -> Issued:
        issued = Issued(secrets.token_urlsafe(24), secrets.token_urlsafe(24), expires_in)
        self.access_tokens[issued.access_token] = grant
        self.refresh_tokens[issued.refresh_token] = grant
        return issued

    async def _client(self, request: web.Request, path: str) -> tuple[Received, bool]:
        """The request as recorded, and whether its client authenticated."""
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        client_id, secret, basic = form.get("client_id"), form.get("client_secret"), False
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            raw_id, _, raw_secret = base64.b64decode(value).decode().partition(":")
            client_id, secret, basic = unquote_plus(raw_id), unquote_plus(raw_secret), True
        received = Received(path, form, client_id, basic)
        return received, (client_id, secret) == (self.client_id, self.client_secret)

    async def _token(self, request: web.Request) -> web.Response:
        received, authenticated = await self._client(request, "/oauth/token")
        self.token_requests.append(received)
        if not authenticated:
            return _error(401, "invalid_client", "client authentication failed")
        if received.form.get("grant_type") != "refresh_token":
            return _error(400, "unsupported_grant_type", "only refresh_token here")
        if self.refresh_answer == "server_error":
            return _error(503, "temporarily_unavailable", "try again later")
        if self.refresh_answer == "token_revoked":
            return _error(400, "token_revoked", "Token has been expired or revoked.")
        if self.refresh_answer != "tokens":
            return _error(400, self.refresh_answer, "The refresh token is invalid.")
        grant = self.refresh_tokens.pop(received.form.get("refresh_token", ""), None)
        if grant is None or grant not in self.grants:
            return _error(400, "invalid_grant", "refresh token is invalid or was used")
        issued = self._tokens(grant)
        return web.json_response(
            {
                "access_token": issued.access_token,
                "refresh_token": issued.refresh_token,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
            }
        )

    async def _revoke(self, request: web.Request) -> web.Response:
        received, authenticated = await self._client(request, "/oauth/revoke")
        self.revoke_requests.append(received)
        if self.revocation_down:
            return _error(503, "temporarily_unavailable", "try again later")
        if not authenticated:
            return _error(401, "invalid_client", "client authentication failed")
        token = received.form.get("token")
        if not token:
            return _error(400, "invalid_request", "token is required")
        # RFC 7009 §2.2: revoking either token ends the grant; an unknown token is a 200 too.
        grant = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        self.grants.discard(grant or "")
        return web.Response(status=200)

    async def _me(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        self.api_requests.append(authorization)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not self.access_token_works(token):
            return _error(401, "invalid_token", "the access token is invalid")
        return web.json_response({"id": "user-1"})


def _error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
