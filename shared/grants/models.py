"""What a short-lived token grants: the records kept in Redis under the token's hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.tenancy import Environment, Tenant


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued (shown to its caller once) and when it stops working."""

    token: str
    expires_at: datetime


class LinkFlow(StrEnum):
    """Which seed's Link flow a link token opens."""

    EMR = "emr"
    WEARABLES = "wearables"
    CONNECT = "connect"  # the hosted Connect URL (POST /v1/connect/hosted)
    # Vital's API (a user_id from POST /v2/user): the flow ends at redirect_url with Vital's
    # state=success / state=error&error_type=… parameters instead of a public token.
    VITAL = "vital"
    # Headless OAuth connect (POST /v1/connect/oauth-url): a backend with its own UI sends the
    # user straight to the provider; the flow ends at its redirect_url with connection_id.
    HEADLESS = "headless"


class Grant(BaseModel):
    """Fields common to every token record: whose it is and when it ends."""

    model_config = ConfigDict(frozen=True)

    client_id: UUID
    environment: Environment
    linked_account_id: str
    # The account's created_at when the token was issued: a token dies with its account,
    # even if an account of the same id is created again later.
    account_created_at: datetime
    expires_at: datetime

    @property
    def tenant(self) -> Tenant:
        """The tenant the token was issued by."""
        return Tenant(self.client_id, self.environment)


class LinkGrant(Grant):
    """A link token: who the Link flow is for and the options it was opened with."""

    flow: LinkFlow
    org_id: str | None = None
    provider: str | None = None
    filter_on_providers: list[str] | None = None
    redirect_url: str | None = None
    emr_name: str | None = None
    update_connection_id: UUID | None = None
    # Branding and greeting for the hosted page (POST /v1/connect/hosted).
    color: str | None = None
    display_name: str | None = None


class LinkOptions(TypedDict, total=False):
    """The options of a ``LinkGrant`` an issuer may set (keep the two in step)."""

    org_id: str | None
    provider: str | None
    filter_on_providers: list[str] | None
    redirect_url: str | None
    emr_name: str | None
    update_connection_id: UUID | None
    color: str | None
    display_name: str | None


class PublicGrant(Grant):
    """A public token: a finished Link flow, waiting to be exchanged for an access token."""

    connection_id: UUID
    app: str
    org_id: str | None = None


class HostedSession(BaseModel):
    """A browser's hosted Link session (behind an HttpOnly cookie), started from a link token."""

    link: LinkGrant
    csrf: str
    # The opener's origin when the JS SDK opened the page (postMessage goes only there).
    sdk_origin: str | None = None
    # Branding and greeting from POST /v1/connect/hosted.
    color: str | None = None
    display_name: str | None = None


class OAuthState(BaseModel):
    """One OAuth round trip: what it is bound to (a hosted session's key, or for headless
    connect the grant itself: the state is then the only key), the app, its PKCE verifier,
    and the token endpoint chosen at the start (SMART discovery may have found it)."""

    session_key: str | None
    app: str
    code_verifier: str | None
    redirect_uri: str
    fields: dict[str, str] = {}
    token_url: str | None = None
    # The token URL came from the catalog alone (may name Linkport's own origin).
    token_url_from_catalog: bool = True
    # Endpoints discovered for this connection (SMART on FHIR), kept with its credentials.
    discovered: dict[str, str] = {}
    headless: LinkGrant | None = None
