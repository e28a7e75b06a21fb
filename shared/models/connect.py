"""The hosted Connect URL for a frontend (``POST /v1/connect/hosted``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.models.common import Color, ExternalId, Name, RequestModel, ResponseModel


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
