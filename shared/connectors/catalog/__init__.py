"""The app catalog: every app Linkport can connect, as data files in ``apps/*.toml``.

An app is a slug (its file name), a name, description, logo (``logos/{slug}.svg``),
categories, an auth kind, OAuth2 endpoints and scopes when it uses OAuth2, and the
connection fields an end user fills in (an instance domain, an API key…). URLs may name
``{base_url}`` (this Linkport) and any connection field, e.g. ``{instance_domain}``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.tenancy import Environment

AuthKind = Literal["oauth2", "api_key", "basic", "none"]
TokenAuth = Literal["client_secret_basic", "client_secret_post"]
_PLACEHOLDER = re.compile(r"{(\w+)}")


class OAuthSpec(BaseModel):
    """How to run the authorization-code flow against the app, quirks included (the fields
    follow Nango's provider definitions where they overlap). String values may name
    ``{base_url}`` and connection fields, e.g. ``aud = "{fhir_base_url}"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    authorize_url: str
    token_url: str
    scopes: list[str] = Field(default_factory=list)
    # How scopes are joined in the authorize URL (RFC 6749 says a space; some use a comma).
    scope_separator: str = " "
    pkce: bool = True
    refresh: bool = True
    # The provider issues a new refresh token with every refresh (the old one stops working).
    refresh_rotates: bool = False
    # How Linkport authenticates at the token endpoint (RFC 6749 §2.3.1): HTTP Basic, or
    # client_id and client_secret in the form body.
    token_auth: TokenAuth = "client_secret_basic"
    # Token requests as a form (RFC 6749) or, for the few that want it, a JSON body.
    token_request_format: Literal["form", "json"] = "form"
    # Extra fixed parameters: on the authorize URL (access_type, prompt, aud…), and in every
    # token request (Withings' action=requesttoken).
    authorization_params: dict[str, str] = Field(default_factory=dict)
    token_params: dict[str, str] = Field(default_factory=dict)
    # Where the tokens sit in the token answer when not at its top ("body" for Withings).
    token_response_path: str | None = None
    # Connection fields learned while connecting: from the token answer (dotted paths, e.g.
    # ``instance_url = "instance_url"``, ``team_id = "team.id"``) and from the callback's
    # query string (``realm_id = "realmId"``). They fill ``{…}`` in api_base_url.
    token_fields: dict[str, str] = Field(default_factory=dict)
    callback_fields: dict[str, str] = Field(default_factory=dict)
    # The token answer's field naming the provider's account/user (dotted path).
    account_id_field: str | None = None
    # RFC 7009 revocation, called when a connection is deleted (None: the app has none).
    revoke_url: str | None = None
    revoke_token: Literal["access_token", "refresh_token"] = "refresh_token"
    # Providers that revoke otherwise than RFC 7009's form POST of ``token=``: Oura takes a
    # GET with ``?access_token=``, Strava's deauthorize a POST of ``access_token=``, Intuit a
    # JSON body, HubSpot a DELETE of ``…/refresh-tokens/{token}`` (``{token}`` in the URL).
    revoke_method: Literal["POST", "GET", "DELETE"] = "POST"
    revoke_param: str = "token"
    revoke_request_format: Literal["form", "json"] = "form"
    # SMART on FHIR (EMRs): authorize and token URLs are read from the server's
    # ``{aud}/.well-known/smart-configuration`` (SMART App Launch 2.x), ``aud`` being the FHIR
    # base URL the user gave; the URLs above are used when the server publishes none.
    smart_discovery: bool = False
    # Credentials Linkport itself holds for this app ("sandbox": the built-in provider's).
    builtin_client: Literal["sandbox"] | None = None


class RequestAuth(BaseModel):
    """How a key-based connection's credentials go on each API call: a header built from a
    template over the connection's fields (``value = "Bearer {api_key}"``), a query
    parameter, or HTTP Basic from two templates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str | None = None
    query_param: str | None = None
    value: str | None = None
    basic_username: str | None = None
    basic_password: str | None = None


class VerifyCall(BaseModel):
    """A cheap call proving new credentials work, made before a key-based connection is
    saved (``path`` below api_base_url); any 2xx passes, 401/403 means a wrong key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["GET", "POST"] = "GET"
    path: str


class ConnectionField(BaseModel):
    """Something the end user types when connecting (secret ones are stored encrypted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str
    type: Literal["text", "url", "password"] = "text"
    required: bool = True
    secret: bool = False
    placeholder: str | None = None


class App(BaseModel):
    """One catalog entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    name: str
    description: str
    categories: list[str]
    auth_kind: AuthKind
    api_base_url: str | None = None
    docs_url: str | None = None
    oauth: OAuthSpec | None = None
    # api_key and basic apps: how the credentials go on requests, and how they are checked.
    request_auth: RequestAuth | None = None
    verify: VerifyCall | None = None
    fields: list[ConnectionField] = Field(default_factory=list)
    default_enabled: list[Environment] = Field(default_factory=list)

    @property
    def logo_path(self) -> str:
        """Where the gateway serves this app's logo."""
        return f"/static/logos/{self.slug}.svg"

    @property
    def public_fields(self) -> list[ConnectionField]:
        """Connection fields that are not secrets (kept in clear on the connection)."""
        return [f for f in self.fields if not f.secret]


def fill(template: str, *, base_url: str, fields: dict[str, str]) -> str:
    """A catalog URL with ``{base_url}`` and connection fields filled in."""
    values = {"base_url": base_url.rstrip("/"), **fields}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def has_user_fields(template: str) -> bool:
    """Whether a catalog URL is built from what an end user typed (any placeholder but
    ``{base_url}``): such URLs must go through the outbound guard."""
    return any(name != "base_url" for name in _PLACEHOLDER.findall(template))


class Catalog:
    """Every app, by slug."""

    def __init__(self, apps: list[App]) -> None:
        self._apps = {app.slug: app for app in sorted(apps, key=lambda a: a.name.lower())}

    def get(self, slug: str) -> App | None:
        """The app with this slug, or None."""
        return self._apps.get(slug)

    def __iter__(self) -> Iterator[App]:
        return iter(self._apps.values())

    def __contains__(self, slug: object) -> bool:
        return slug in self._apps


class CatalogError(ValueError):
    """A catalog file that cannot be read or is not a valid app."""


def _read_apps(entries: Iterable[Traversable]) -> dict[str, App]:
    apps = {}
    for entry in entries:
        if not (entry.name.endswith(".toml") and entry.is_file()):
            continue
        slug = entry.name.removesuffix(".toml")
        try:
            apps[slug] = App(slug=slug, **tomllib.loads(entry.read_text()))
        except (tomllib.TOMLDecodeError, ValidationError, TypeError, OSError) as exc:
            raise CatalogError(f"catalog file {entry.name}: {exc}") from exc
    return apps


@cache
def load_catalog(overrides: str = "") -> Catalog:
    """The catalog shipped with this package, each ``<slug>.toml`` of the ``overrides`` folder
    (the operator's ``LINKPORT_CATALOG_OVERRIDES``) replacing the app of that slug or adding
    one. Read once per process; an unreadable or invalid file raises CatalogError."""
    apps = _read_apps(resources.files("shared.connectors.catalog").joinpath("apps").iterdir())
    if overrides:
        folder = Path(overrides)
        if not folder.is_dir():
            raise CatalogError(f"catalog overrides folder {overrides} does not exist")
        apps |= _read_apps(sorted(folder.iterdir()))
    return Catalog(list(apps.values()))


def logo_svg(slug: str) -> bytes | None:
    """An app's logo file, or None."""
    entry = resources.files("shared.connectors.catalog") / "logos" / f"{slug}.svg"
    return entry.read_bytes() if entry.is_file() else None
