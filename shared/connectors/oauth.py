"""Linkport as an OAuth2 client: authorization URLs, token requests and token answers, with
every provider quirk the catalog describes (``OAuthSpec``).

The protocol is oauthlib's (``oauthlib.oauth2.WebApplicationClient`` and its RFC 6749
parameter helpers): it is sans-I/O, so it builds the authorize URL and the token request
bodies and parses token answers (mapping RFC 6749 error codes to its error classes), while
every byte still travels through our guarded ``OutboundClient`` (SSRF checks, time and size
bounds). Two oauthlib habits are handled here rather than by environment variables, which
would change the whole process: its refusal of ``http://`` URLs (the catalog and the
outbound guard decide which URLs may be called; tests run on loopback), and its scope-change
warning (a provider granting fewer scopes than asked is not an error to us).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import aiohttp
import orjson
from oauthlib.oauth2 import WebApplicationClient  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.parameters import parse_token_response  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.connectors.catalog import OAuthSpec, fill
from shared.infra.outbound import BlockedDestination, OutboundClient, ResponseTooLarge

# An RFC 6749 error code (``invalid_grant``); anything else a provider puts in ``error`` is
# free text (Withings' "Invalid Params: invalid code") and becomes the description.
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
# PKCE verifier length (RFC 7636 §4.1 allows 43 to 128 characters).
_VERIFIER_LENGTH = 64


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
    """A token endpoint's answer (RFC 6749 §5.1) once unwrapped from the provider's envelope;
    provider extras (an account id, an instance URL…) are kept and read by ``value_at``."""

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

    def value_at(self, path: str) -> str | None:
        """The answer's value at a dotted path (``team.id``), as text; None when absent."""
        return value_at(self.model_dump(), path)


def value_at(document: Any, path: str) -> str | None:
    """A JSON document's scalar at a dotted path, as text (numbers too); None when absent."""
    node = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or node is None or isinstance(node, dict | list):
        return None
    return str(node)


def learned_fields(
    spec: OAuthSpec, token_set: TokenSet, answer: dict[str, Any], callback: Mapping[str, str]
) -> dict[str, str]:
    """Connection fields learned while connecting: ``token_fields`` (dotted paths into the
    token answer, below its ``token_response_path`` first, then from its top) and
    ``callback_fields`` (the callback's query parameters)."""
    learned = {}
    for key, path in spec.token_fields.items():
        value = token_set.value_at(path) or value_at(answer, path)
        if value is not None:
            learned[key] = value
    for key, param in spec.callback_fields.items():
        if callback.get(param):
            learned[key] = callback[param]
    return learned


def new_pkce() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636), by oauthlib's helpers."""
    helper = WebApplicationClient(None)
    verifier: str = helper.create_code_verifier(_VERIFIER_LENGTH)
    challenge: str = helper.create_code_challenge(verifier, "S256")
    return verifier, challenge


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query string (existing parameters kept)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def filled_params(
    params: Mapping[str, str], *, base_url: str, fields: Mapping[str, str]
) -> dict[str, str]:
    """Catalog parameters with ``{base_url}`` and connection fields filled in."""
    return {k: fill(v, base_url=base_url, fields=dict(fields)) for k, v in params.items()}


def _as_https(url: str) -> tuple[str, bool]:
    """oauthlib refuses to build on ``http://`` URLs unless a process-wide environment
    variable says otherwise; the outbound guard and the catalog decide which URLs are fine,
    so build on the ``https`` twin and put the scheme back (it changes nothing else)."""
    if url.lower().startswith("http://"):
        return "https://" + url[len("http://") :], True
    return url, False


def authorization_url(
    *,
    spec: OAuthSpec,
    authorize_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: list[str],
    code_challenge: str | None,
    extra_params: Mapping[str, str] | None = None,
) -> str:
    """Where to send the user to consent: response_type=code, the client id, the exact
    redirect URI, state, the scopes joined by the app's separator, PKCE S256 and the app's
    extra authorization parameters (already filled)."""
    client = WebApplicationClient(client_id)
    url, was_http = _as_https(authorize_url)
    prepared: str = client.prepare_request_uri(
        url,
        redirect_uri=redirect_uri,
        # A string is used as is: the app's own separator, not oauthlib's space.
        scope=spec.scope_separator.join(scopes) if scopes else None,
        state=state,
        code_challenge=code_challenge,
        code_challenge_method="S256" if code_challenge is not None else None,
        **dict(extra_params or {}),
    )
    return "http://" + prepared[len("https://") :] if was_http else prepared


def basic_authorization(client: OAuthClient) -> str:
    """The ``Authorization`` value of ``client_secret_basic`` (RFC 6749 §2.3.1: id and secret
    are form-urlencoded, then joined for HTTP Basic)."""
    pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _client_auth(client: OAuthClient, spec: OAuthSpec) -> tuple[dict[str, str], dict[str, Any]]:
    """(headers, body arguments) authenticating the client as the app wants (RFC 6749 §2.3.1)."""
    if spec.token_auth == "client_secret_post":
        return {}, {"include_client_id": True, "client_secret": client.client_secret}
    return {"Authorization": basic_authorization(client)}, {"include_client_id": False}


async def exchange_code(
    http: OutboundClient,
    *,
    spec: OAuthSpec,
    token_url: str,
    from_catalog: bool,
    client: OAuthClient,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    token_params: Mapping[str, str] | None = None,
) -> tuple[TokenSet, dict[str, Any]]:
    """Trade an authorization code for tokens: (the tokens, the whole answer)."""
    headers, auth = _client_auth(client, spec)
    body: str = WebApplicationClient(client.client_id).prepare_request_body(
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        **auth,
        **dict(token_params or {}),
    )
    return await request_token(
        http, spec=spec, token_url=token_url, from_catalog=from_catalog, body=body, headers=headers
    )


async def refresh_tokens(
    http: OutboundClient,
    *,
    spec: OAuthSpec,
    token_url: str,
    from_catalog: bool,
    client: OAuthClient,
    refresh_token: str,
    token_params: Mapping[str, str] | None = None,
) -> tuple[TokenSet, dict[str, Any]]:
    """Use a refresh token (RFC 6749 §6): (the new tokens, the whole answer)."""
    headers, auth = _client_auth(client, spec)
    body: str = WebApplicationClient(client.client_id).prepare_refresh_body(
        refresh_token=refresh_token,
        client_id=client.client_id,
        **auth,
        **dict(token_params or {}),
    )
    return await request_token(
        http, spec=spec, token_url=token_url, from_catalog=from_catalog, body=body, headers=headers
    )


async def request_token(
    http: OutboundClient,
    *,
    spec: OAuthSpec,
    token_url: str,
    from_catalog: bool,
    body: str,
    headers: dict[str, str],
) -> tuple[TokenSet, dict[str, Any]]:
    """POST an oauthlib-built body to a token endpoint, as a form or (``token_request_format =
    "json"``) a JSON object; the tokens and the whole answer, or OAuthError.

    ``from_catalog``: the URL is the catalog's alone (no part an end user typed), so it may
    name Linkport's own origin (the sandbox provider)."""
    headers = {"Accept": "application/json", **headers}
    pairs = dict(parse_qsl(body, keep_blank_values=True))
    try:
        if spec.token_request_format == "json":
            reply = await http.request(
                "POST", token_url, json=pairs, headers=headers, from_catalog=from_catalog
            )
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            reply = await http.request(
                "POST", token_url, data=body, headers=headers, from_catalog=from_catalog
            )
    except BlockedDestination as exc:
        raise OAuthError("blocked_destination", str(exc)) from None
    except ResponseTooLarge:
        raise OAuthError("invalid_response", "token endpoint answer is too large") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OAuthError(
            "token_request_failed", f"token endpoint unreachable ({type(exc).__name__})"
        ) from None
    return parse_token_answer(spec, status=reply.status, body=reply.body)


def parse_token_answer(
    spec: OAuthSpec, *, status: int, body: bytes
) -> tuple[TokenSet, dict[str, Any]]:
    """A token endpoint's answer as tokens and the whole answer, or OAuthError for every way
    providers say no: an RFC 6749 error (any status), Slack's ``{"ok": false, "error": …}``
    and GitHub's ``{"error": …}`` with HTTP 200, an envelope's error beside the unwrapped
    path (Withings' ``{"status": 601, "error": "…"}``), a non-2xx without a body we know."""
    try:
        answer: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        # RFC 6749 says JSON; a few old endpoints answer a form (oauthlib reads those too).
        answer = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    if not isinstance(answer, dict) or not answer:
        raise OAuthError("invalid_response", f"token endpoint answered {status} without a token")
    _raise_envelope_error(answer, status=status)
    tokens: Any = answer
    if spec.token_response_path:
        for part in spec.token_response_path.split("."):
            tokens = tokens.get(part) if isinstance(tokens, dict) else None
        if not isinstance(tokens, dict):
            raise OAuthError(
                "invalid_response",
                f"token endpoint answered {status} without {spec.token_response_path!r}",
            )
        _raise_envelope_error(tokens, status=status)
    if not 200 <= status < 300:
        raise OAuthError("invalid_response", f"token endpoint answered {status}")
    try:
        # scope=None: a narrower grant than asked is not an error (oauthlib would warn).
        parse_token_response(orjson.dumps(tokens).decode(), scope=None)
    except OAuth2Error as exc:
        raise OAuthError(exc.error or "invalid_response", exc.description or "") from None
    try:
        token_set = TokenSet.model_validate(_normalised(tokens))
    except ValidationError:
        raise OAuthError("invalid_response", "token endpoint answer is malformed") from None
    return token_set, answer


def _raise_envelope_error(answer: dict[str, Any], *, status: int) -> None:
    """Raise OAuthError when ``answer`` says it is an error, whatever the HTTP status."""
    error = answer.get("error")
    refused = answer.get("ok") is False or (
        error not in (None, "", {}) and "access_token" not in answer
    )
    if not refused:
        return
    if isinstance(error, dict):  # {"error": {"code": …, "message": …}}
        error = error.get("code") or error.get("type") or error.get("message")
    text = str(error) if error not in (None, "") else "invalid_response"
    description = str(answer.get("error_description") or answer.get("message") or "")
    if _ERROR_CODE.fullmatch(text):
        raise OAuthError(text, description or f"token endpoint answered {status}")
    # Free text in ``error`` (Withings): no RFC code to map, keep it as the description.
    raise OAuthError("provider_error", text[:200])


def _normalised(tokens: dict[str, Any]) -> dict[str, Any]:
    """Token fields as TokenSet expects them: scope as text, expires_in as whole seconds."""
    values = dict(tokens)
    scope = values.get("scope")
    if isinstance(scope, list):
        values["scope"] = " ".join(str(s) for s in scope)
    expires_in = values.get("expires_in")
    if isinstance(expires_in, float):
        values["expires_in"] = int(expires_in)
    for key in ("access_token", "refresh_token", "token_type"):
        if isinstance(values.get(key), int | float) and not isinstance(values.get(key), bool):
            values[key] = str(values[key])
    if "account_id" in values and not isinstance(values["account_id"], str):
        values["account_id"] = str(values["account_id"])
    return values
