"""Fitbit actions: a day's activity summary, sleep log and heart rate from the Web API
(https://dev.fitbit.com/build/reference/web-api/); ``-`` is the connected user."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of


class DayInput(BaseModel):
    """One day, in the user's time zone."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(description="The day (YYYY-MM-DD).")


class HeartRateInput(BaseModel):
    """Daily heart-rate summaries for a period ending on ``date``."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(description="The last day of the period (YYYY-MM-DD).")
    period: Literal["1d", "7d", "30d", "1w", "1m"] = Field(
        default="1d", description="How far back from date: 1d, 7d, 30d, 1w or 1m."
    )


async def _activity_summary(ctx: ActionContext, data: DayInput) -> Any:
    path = f"/1/user/-/activities/date/{data.date.isoformat()}.json"
    return result_of(await ctx.call_api("GET", path))


async def _sleep_log(ctx: ActionContext, data: DayInput) -> Any:
    path = f"/1.2/user/-/sleep/date/{data.date.isoformat()}.json"
    return result_of(await ctx.call_api("GET", path))


async def _heart_rate(ctx: ActionContext, data: HeartRateInput) -> dict[str, Any]:
    path = f"/1/user/-/activities/heart/date/{data.date.isoformat()}/{data.period}.json"
    body = result_of(await ctx.call_api("GET", path))
    return {"days": body.get("activities-heart", [])}


ACTIONS = (
    Action(
        "fitbit.activity_summary",
        "fitbit",
        DayInput,
        _activity_summary,
        "A day's activities, goals and summary (steps, calories, distances)",
    ),
    Action(
        "fitbit.sleep_log",
        "fitbit",
        DayInput,
        _sleep_log,
        "A day's sleep logs (stages, efficiency) and summary",
    ),
    Action(
        "fitbit.heart_rate",
        "fitbit",
        HeartRateInput,
        _heart_rate,
        "Daily heart-rate zones and resting heart rate for a period",
    ),
)
