"""Switching faults on a sandbox connection, to rehearse what real apps do."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas import RequestModel, ResponseModel

SandboxFault = Literal["expired_token", "revoked", "rate_limited", "server_error"]


class SandboxFaultSet(RequestModel):
    """``fault`` null switches faults off; ``count`` limits how many calls fail (default: all,
    except ``expired_token``: once, so the refreshed token works)."""

    fault: SandboxFault | None
    count: int | None = Field(default=None, ge=1, le=1000)


class SandboxFaultRead(ResponseModel):
    """The fault now in force on the connection's sandbox grant."""

    connection_id: str
    fault: SandboxFault | None
    remaining: int | None
