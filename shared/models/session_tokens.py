"""Session tokens: 24-hour tokens a frontend uses for one linked account."""

from __future__ import annotations

from datetime import datetime

from shared.models.common import ExternalId, RequestModel, ResponseModel


class SessionTokenCreate(RequestModel):
    """Create a session token for an existing linked account."""

    linked_account_id: ExternalId


class SessionTokenCreated(ResponseModel):
    """The token (``st_…``, shown once) and when it expires."""

    token: str
    expires_at: datetime
