"""A fake app API for the proxy and key verification tests, with test-only catalog entries.

One server fakes several apps below ``/{slug}/api`` (``slug`` as in the catalog TOMLs that
``catalog_overrides`` writes): key-based apps taking their key in a header, in the query or
by HTTP Basic, and an OAuth app whose token endpoint refreshes (``/oauthy/oauth/token``).
Every API call is recorded (``calls``), whatever its credentials, so that a test can tell
that a refused request never reached the app."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer

# How each key-based app takes its key (catalog ``request_auth``), and the key it accepts.
GOOD_KEY = "key-good-7f3a"
BASIC_USER = "ops@acme.test"
# The OAuth app: the access token it accepts after a refresh, and the refresh token it takes.
FRESH_TOKEN = "at-fresh-91"
REFRESH_TOKEN = "rt-5517"
CLIENT_ID = "oauthy-client"
CLIENT_SECRET = "oauthy-s3cret"


@dataclass(frozen=True)
class Call:
    """One request the fake app received."""

    slug: str
    method: str
    path: str  # below /{slug}/api, undecoded
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ProxiedApps(FakeServer):
    """The fake apps' APIs, and the OAuth app's token endpoint."""

    calls: list[Call] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    # Access tokens the OAuth app accepts (a refresh adds FRESH_TOKEN).
    oauth_tokens: set[str] = field(default_factory=set)
    # False: a refresh issues FRESH_TOKEN but the API refuses it too (a grant gone bad).
    accept_refreshed: bool = True
    # ``GET …/hang`` answers only once this is set (never, unless a test sets it).
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        super().__init__()

    def api_calls(self, slug: str) -> list[Call]:
        """What ``slug``'s API received."""
        return [c for c in self.calls if c.slug == slug]

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/oauthy/oauth/token", self._token)
        router.add_route("*", "/{slug}/api/{path:.*}", self._api)

    def _authorized(self, slug: str, request: web.Request) -> bool:
        if slug == "keyed_header":
            return request.headers.get("X-Api-Token") == GOOD_KEY
        if slug == "keyed_query":
            return request.query.get("token") == GOOD_KEY
        if slug == "keyed_basic":
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            pair = base64.b64decode(value).decode() if scheme == "Basic" else ""
            return pair == f"{BASIC_USER}:{GOOD_KEY}"
        if slug == "oauthy":
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            return scheme == "Bearer" and token in self.oauth_tokens
        return False

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
            return web.json_response({"error": "invalid_grant"}, status=400)
        if self.accept_refreshed:
            self.oauth_tokens.add(FRESH_TOKEN)
        return web.json_response(
            {"access_token": FRESH_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        )

    async def _api(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        raw_path = request.rel_url.raw_path.removeprefix(f"/{slug}/api")
        body = await request.read()
        self.calls.append(
            Call(
                slug,
                request.method,
                raw_path,
                request.rel_url.raw_query_string,
                dict(request.headers),
                body,
            )
        )
        if not self._authorized(slug, request):
            return web.json_response(
                {"error": "unauthorized", "message": "invalid credentials"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="fake"'},
            )
        path = raw_path.split("/", 2)[-1]  # below the version segment (/v2/…)
        if path == "me":
            return web.json_response({"id": "acct-1", "name": "Acme Ops"})
        if path == "limited":
            return web.json_response(
                {"error": "rate_limited"}, status=429, headers={"Retry-After": "7"}
            )
        if path == "hang":
            await self.release.wait()
            return web.json_response({"late": True})
        if path == "download":
            return await self._download(request, int(request.query["size"]))
        return web.json_response(
            {
                "method": request.method,
                "path": raw_path,
                "query": request.rel_url.raw_query_string,
                "headers": dict(request.headers),
                "body": body.decode(errors="replace"),
            },
            status=201 if request.method == "POST" else 200,
            headers={
                "Set-Cookie": "session=app-cookie; Path=/",
                "X-Fake-Trace": "t-1",
                "Access-Control-Allow-Origin": "*",
            },
        )

    async def _download(self, request: web.Request, size: int) -> web.StreamResponse:
        """``size`` bytes (a repeating pattern), sent chunked in 64 KiB pieces."""
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        while sent < size:
            piece = min(65536, size - sent)
            await response.write(_pattern(sent, piece))
            sent += piece
        await response.write_eof()
        return response


def _pattern(offset: int, length: int) -> bytes:
    """Bytes ``offset`` … ``offset + length`` of the download (byte i is i mod 251)."""
    return bytes((offset + i) % 251 for i in range(length))


def download_bytes(size: int) -> bytes:
    """The whole download of ``size`` bytes, to compare with what arrived."""
    return _pattern(0, size)


_KEYED_FIELDS = """
[[fields]]
key = "api_key"
label = "API key"
type = "password"
secret = true
"""


def catalog_overrides(folder: Path, fake_url: str, *, unreachable_url: str = "") -> Path:
    """Write the test apps' catalog TOMLs into ``folder`` (for ``catalog_overrides``);
    ``keyed_down`` (a query-key app) has its API at ``unreachable_url`` (nothing listening)."""
    common = 'description = "A test app."\ncategories = ["testing"]\ndefault_enabled = ["test"]\n'
    entries: dict[str, str] = {
        "keyed_header": f"""name = "Keyed Header"
{common}auth_kind = "api_key"
api_base_url = "{fake_url}/keyed_header/api/v2"
[request_auth]
header = "X-Api-Token"
value = "{{api_key}}"
[verify]
path = "/me"
{_KEYED_FIELDS}""",
        "keyed_query": f"""name = "Keyed Query"
{common}auth_kind = "api_key"
api_base_url = "{fake_url}/keyed_query/api/v2"
[request_auth]
query_param = "token"
value = "{{api_key}}"
[verify]
path = "/me"
{_KEYED_FIELDS}""",
        "keyed_basic": f"""name = "Keyed Basic"
{common}auth_kind = "basic"
api_base_url = "{fake_url}/keyed_basic/api/v2"
[request_auth]
basic_username = "{{email}}"
basic_password = "{{api_key}}"
[verify]
path = "/me"

[[fields]]
key = "email"
label = "Email"
{_KEYED_FIELDS}""",
        "keyed_down": f"""name = "Keyed Down"
{common}auth_kind = "api_key"
api_base_url = "{unreachable_url}/v2"
[request_auth]
query_param = "token"
value = "{{api_key}}"
[verify]
path = "/me"
{_KEYED_FIELDS}""",
        "keyed_unchecked": f"""name = "Keyed Unchecked"
{common}auth_kind = "api_key"
api_base_url = "{fake_url}/keyed_unchecked/api/v2"
[request_auth]
header = "X-Api-Token"
value = "{{api_key}}"
{_KEYED_FIELDS}""",
        "oauthy": f"""name = "OAuthy"
{common}auth_kind = "oauth2"
api_base_url = "{fake_url}/oauthy/api/v1"
[oauth]
authorize_url = "{fake_url}/oauthy/oauth/authorize"
token_url = "{fake_url}/oauthy/oauth/token"
scopes = ["read"]
""",
    }
    for slug, text in entries.items():
        (folder / f"{slug}.toml").write_text(text)
    return folder


def recorded(calls: list[Call]) -> list[dict[str, Any]]:
    """Calls as plain dicts (for assertion messages)."""
    return [{"method": c.method, "path": c.path, "query": c.query} for c in calls]
