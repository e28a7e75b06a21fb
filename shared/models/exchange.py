"""Exchanging a public token for a permanent access token, and rotating that token."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from shared.models.common import RequestModel, ResponseModel


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


class AccessTokenRotated(ResponseModel):
    """A new access token for a connection; the previous one stopped working."""

    success: Literal[True] = True
    access_token: str
    connection_id: str
