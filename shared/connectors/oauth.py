"""Linkport as an OAuth2 client: authorization URLs with PKCE S256, and token requests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge

TokenAuth = Literal["client_secret_basic", "client_secret_post"]


class OAuthError(Exception):
    """The provider refused, or answered something that is not a token."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class OAuthClient:
    """Linkport's registration at a provider: its client id and secret, and the scopes to ask."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: list[str]


class TokenSet(BaseModel):
    """A token endpoint's answer (RFC 6749 §5.1), plus provider extras such as an account id."""

    model_config = ConfigDict(extra="allow")

    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_in: int | None = None
    scope: str | None = None
    account_id: str | None = None

    def expires_at(self, now: datetime | None = None) -> datetime | None:
        """When the access token expires, if the provider said."""
        if self.expires_in is None:
            return None
        return (now or datetime.now(UTC)) + timedelta(seconds=self.expires_in)


def new_pkce() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query string (existing parameters kept)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def authorization_url(
    *,
    authorize_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: list[str],
    code_challenge: str | None,
) -> str:
    """Where to send the user to consent."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": " ".join(scopes),
    }
    if code_challenge is not None:
        params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    return with_query(authorize_url, params)


async def request_token(
    http: OutboundClient,
    *,
    token_url: str,
    from_catalog: bool,
    client_id: str,
    client_secret: str,
    form: dict[str, str],
    auth: TokenAuth = "client_secret_basic",
) -> TokenSet:
    """POST to a token endpoint; the tokens, or OAuthError. The client authenticates by HTTP
    Basic, or with ``auth="client_secret_post"`` by its id and secret in the form.

    ``from_catalog``: the URL is the catalog's alone (no part an end user typed), so it may
    name Linkport's own origin (the sandbox provider)."""
    headers = {"Accept": "application/json"}
    if auth == "client_secret_post":
        form = {**form, "client_id": client_id, "client_secret": client_secret}
    else:
        # RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined for HTTP Basic.
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    try:
        reply = await http.request(
            "POST", token_url, data=form, headers=headers, from_catalog=from_catalog
        )
        body: Any = orjson.loads(reply.body)
    except BlockedDestination as exc:
        raise OAuthError("blocked_destination", str(exc)) from None
    except ResponseTooLarge:
        raise OAuthError("invalid_response", "token endpoint answer is too large") from None
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
        raise OAuthError(
            "token_request_failed", f"token endpoint unreachable or not JSON ({type(exc).__name__})"
        ) from None
    if reply.status != 200 or not isinstance(body, dict) or "error" in body:
        error = (
            body.get("error", "invalid_response") if isinstance(body, dict) else "invalid_response"
        )
        raise OAuthError(str(error), f"token endpoint answered {reply.status}")
    try:
        return TokenSet.model_validate(body)
    except ValidationError:
        raise OAuthError("invalid_response", "token endpoint answer has no access_token") from None


async def exchange_code(
    http: OutboundClient,
    *,
    token_url: str,
    from_catalog: bool,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    auth: TokenAuth = "client_secret_basic",
) -> TokenSet:
    """Trade an authorization code for tokens."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    return await request_token(
        http,
        token_url=token_url,
        from_catalog=from_catalog,
        client_id=client_id,
        client_secret=client_secret,
        form=form,
        auth=auth,
    )
