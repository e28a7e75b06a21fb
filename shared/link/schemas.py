"""Link tokens in the two seed shapes (EMR "Link" and wearables "Link")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from shared.schemas import ExternalId, HttpUrl, RequestModel, ResponseModel, Slug


class LinkTokenCreate(RequestModel):
    """``POST /link/token/create`` (EMR seed): a single-use link token."""

    user_id: ExternalId = Field(description="the end user's id in your system (no PII)")
    org_id: ExternalId = Field(description="the organisation the user belongs to")
    emr_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="EMR system name, used when the org is new"
    )
    emr_instance_domain: HttpUrl | None = Field(
        default=None, description="EMR instance URL, used when the org is new"
    )
    access_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None, description="an existing connection's access token: update mode"
    )


class LinkTokenCreated(ResponseModel):
    """The EMR seed's answer: ``{"success": true, "token": "lt_…"}``."""

    success: Literal[True] = True
    token: str


class WearablesLinkTokenCreate(RequestModel):
    """``POST /v2/link/token`` (wearables seed): a single-use link token."""

    user_id: ExternalId
    provider: Slug | None = Field(default=None, description="open Link on this provider")
    filter_on_providers: list[Slug] | None = Field(
        default=None, max_length=100, description="offer only these providers"
    )
    redirect_url: HttpUrl | None = Field(
        default=None, description="where to send the user after Link; must be allow-listed"
    )


class WearablesLinkTokenCreated(ResponseModel):
    """The wearables seed's answer: ``{"link_token": "…"}``."""

    link_token: str


class PublicTokenExchange(RequestModel):
    """``POST /link/token/exchange``: the public token the Link flow handed to your frontend."""

    public_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PublicTokenExchanged(ResponseModel):
    """The permanent access token (``at_…``, shown once) and what it identifies."""

    success: Literal[True] = True
    access_token: str
    connection_id: str
    user_id: str
    org_id: str | None
    app: str


class PublicTokenQuery(RequestModel):
    """``GET /link/token/exchange?public_token=…`` (the EMR API reference's form)."""

    public_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PublicTokenExchangedAsToken(ResponseModel):
    """The EMR API reference's answer, ``{"success": true, "token": "<access token>"}``,
    with the fields ``POST`` answers after it."""

    success: Literal[True] = True
    token: str = Field(description="the access token (the same as access_token)")
    access_token: str
    connection_id: str
    user_id: str
    org_id: str | None
    app: str


class AccessTokenRotated(ResponseModel):
    """A new access token for a connection; the previous one stopped working."""

    success: Literal[True] = True
    access_token: str
    connection_id: str


class HeadlessOAuthCreate(RequestModel):
    """``POST /v1/connect/oauth-url``: an OAuth app's authorization URL for a backend that
    shows its own UI (no hosted page)."""

    linked_account_id: ExternalId
    app: Slug = Field(description="an OAuth2 app this client offers (GET /v1/apps)")
    fields: dict[
        Annotated[str, StringConstraints(max_length=64)],
        Annotated[str, StringConstraints(max_length=4096)],
    ] = Field(
        default_factory=dict,
        max_length=50,
        description="the app's public connection fields (e.g. an instance or FHIR base URL)",
    )
    redirect_url: HttpUrl | None = Field(
        default=None,
        description="where the browser goes at the end, with connection_id and status=success "
        "or error and error_description; must be allow-listed (without: Linkport's done page)",
    )
    connection_id: UUID | None = Field(
        default=None, description="re-authorise this connection of the account instead"
    )


class HeadlessOAuthCreated(ResponseModel):
    """Where to send the end user's browser (the state in it works once)."""

    authorize_url: str
    state_expires_at: datetime
