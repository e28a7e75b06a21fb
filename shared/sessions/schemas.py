"""Session tokens: what a frontend holds to act for one linked account."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.schemas import Color, ExternalId, Name, RequestModel, ResponseModel


class SessionTokenCreate(RequestModel):
    """Create a session token for an existing linked account."""

    linked_account_id: ExternalId


class SessionTokenCreated(ResponseModel):
    """The token (``st_…``, shown once) and when it expires."""

    token: str
    expires_at: datetime


class HostedConnectCreate(RequestModel):
    """Branding for the hosted page; a server caller also names the linked account."""

    color: Color | None = None
    name: Name | None = Field(default=None, description="the end user's name, shown on the page")
    linked_account_id: ExternalId | None = Field(
        default=None, description="required with server credentials; implied by a session token"
    )


class HostedConnectCreated(ResponseModel):
    """Where to send the end user (single use)."""

    hosted_url: str
    expires_at: datetime
