"""Oura actions: daily sleep, daily activity and heart rate from the API v2 usercollection
(https://cloud.ouraring.com/v2/docs). Every collection pages with ``next_token``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of


class DailyRangeInput(BaseModel):
    """Days to read (Oura's default without dates: the last week), and a page token."""

    model_config = ConfigDict(extra="forbid")

    start_date: date | None = Field(default=None, description="First day (YYYY-MM-DD).")
    end_date: date | None = Field(default=None, description="Last day (YYYY-MM-DD), inclusive.")
    next_token: str | None = Field(
        default=None, max_length=2000, description="The next_token of a previous page."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class HeartRateInput(BaseModel):
    """A time window of heart-rate samples, and a page token."""

    model_config = ConfigDict(extra="forbid")

    start_datetime: datetime | None = Field(
        default=None, description="Window start (ISO 8601 date-time)."
    )
    end_datetime: datetime | None = Field(
        default=None, description="Window end (ISO 8601 date-time)."
    )
    next_token: str | None = Field(
        default=None, max_length=2000, description="The next_token of a previous page."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_datetime and self.end_datetime and self.end_datetime < self.start_datetime:
            raise ValueError("end_datetime must not be before start_datetime")
        return self


async def _collection(ctx: ActionContext, name: str, params: dict[str, str]) -> dict[str, Any]:
    body = result_of(await ctx.call_api("GET", f"/v2/usercollection/{name}", params=params))
    return {"data": body.get("data", []), "next_token": body.get("next_token")}


def _day_params(data: DailyRangeInput) -> dict[str, str]:
    params = {}
    if data.start_date:
        params["start_date"] = data.start_date.isoformat()
    if data.end_date:
        params["end_date"] = data.end_date.isoformat()
    if data.next_token:
        params["next_token"] = data.next_token
    return params


async def _daily_sleep(ctx: ActionContext, data: DailyRangeInput) -> dict[str, Any]:
    return await _collection(ctx, "daily_sleep", _day_params(data))


async def _daily_activity(ctx: ActionContext, data: DailyRangeInput) -> dict[str, Any]:
    return await _collection(ctx, "daily_activity", _day_params(data))


async def _heart_rate(ctx: ActionContext, data: HeartRateInput) -> dict[str, Any]:
    params = {}
    if data.start_datetime:
        params["start_datetime"] = data.start_datetime.isoformat()
    if data.end_datetime:
        params["end_datetime"] = data.end_datetime.isoformat()
    if data.next_token:
        params["next_token"] = data.next_token
    return await _collection(ctx, "heartrate", params)


ACTIONS = (
    Action(
        "oura.daily_sleep",
        "oura",
        DailyRangeInput,
        _daily_sleep,
        "Daily sleep scores and contributors for a range of days",
    ),
    Action(
        "oura.daily_activity",
        "oura",
        DailyRangeInput,
        _daily_activity,
        "Daily activity (steps, calories, activity score) for a range of days",
    ),
    Action(
        "oura.heart_rate",
        "oura",
        HeartRateInput,
        _heart_rate,
        "Heart-rate samples (bpm, source) for a time window",
    ),
)
