"""WHOOP actions: recovery, sleep and physiological cycles from the v2 developer API
(https://developer.whoop.com/api/). Collections page with ``nextToken`` (25 records at most)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of


class CollectionInput(BaseModel):
    """A time window and a page of WHOOP records (newest first)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = Field(
        default=None, description="Records at or after this time (ISO 8601)."
    )
    end: datetime | None = Field(
        default=None, description="Records before this time (ISO 8601); default now."
    )
    limit: int = Field(default=10, ge=1, le=25, description="Records per page (WHOOP's max 25).")
    next_token: str | None = Field(
        default=None, max_length=2000, description="The next_token of a previous page."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


def _when(moment: datetime) -> str:
    """WHOOP wants ISO 8601 date-times; a naive one is taken as UTC."""
    return moment.isoformat() if moment.tzinfo else moment.isoformat() + "Z"


async def _collection(ctx: ActionContext, path: str, data: CollectionInput) -> dict[str, Any]:
    params = {"limit": str(data.limit)}
    if data.start:
        params["start"] = _when(data.start)
    if data.end:
        params["end"] = _when(data.end)
    if data.next_token:
        params["nextToken"] = data.next_token
    body = result_of(await ctx.call_api("GET", path, params=params))
    return {"records": body.get("records", []), "next_token": body.get("next_token")}


async def _recovery(ctx: ActionContext, data: CollectionInput) -> dict[str, Any]:
    return await _collection(ctx, "/v2/recovery", data)


async def _sleep(ctx: ActionContext, data: CollectionInput) -> dict[str, Any]:
    return await _collection(ctx, "/v2/activity/sleep", data)


async def _cycles(ctx: ActionContext, data: CollectionInput) -> dict[str, Any]:
    return await _collection(ctx, "/v2/cycle", data)


ACTIONS = (
    Action(
        "whoop.recovery",
        "whoop",
        CollectionInput,
        _recovery,
        "Recovery scores (HRV, resting heart rate, SpO2) in a time window",
    ),
    Action(
        "whoop.sleep",
        "whoop",
        CollectionInput,
        _sleep,
        "Sleep activities (stages, performance, respiratory rate) in a time window",
    ),
    Action(
        "whoop.cycles",
        "whoop",
        CollectionInput,
        _cycles,
        "Physiological cycles (strain, heart rate, kilojoules) in a time window",
    ),
)
