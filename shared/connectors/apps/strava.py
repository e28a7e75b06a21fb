"""Strava actions: the athlete's activities, one activity, and the athlete's totals
(https://developers.strava.com/docs/reference/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, ActionError, result_of


class ListActivitiesInput(BaseModel):
    """A page of the athlete's activities, optionally within a time window."""

    model_config = ConfigDict(extra="forbid")

    after: datetime | None = Field(
        default=None, description="Only activities started after this time (ISO 8601)."
    )
    before: datetime | None = Field(
        default=None, description="Only activities started before this time (ISO 8601)."
    )
    page: int = Field(default=1, ge=1, le=10_000, description="Page number (from 1).")
    per_page: int = Field(default=30, ge=1, le=200, description="Activities per page (max 200).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.after and self.before and self.before <= self.after:
            raise ValueError("before must be later than after")
        return self


class GetActivityInput(BaseModel):
    """One activity of the athlete, by its Strava id."""

    model_config = ConfigDict(extra="forbid")

    activity_id: int = Field(ge=1, description="The activity's Strava id.")
    include_all_efforts: bool = Field(
        default=False, description="Also return every segment effort."
    )


class AthleteStatsInput(BaseModel):
    """Totals of the connected athlete (whose id is looked up when not given)."""

    model_config = ConfigDict(extra="forbid")

    athlete_id: int | None = Field(
        default=None, ge=1, description="The athlete's id; default: the connected athlete."
    )


async def _list_activities(ctx: ActionContext, data: ListActivitiesInput) -> dict[str, Any]:
    params = {"page": str(data.page), "per_page": str(data.per_page)}
    if data.after:
        params["after"] = str(int(data.after.timestamp()))
    if data.before:
        params["before"] = str(int(data.before.timestamp()))
    body = result_of(await ctx.call_api("GET", "/athlete/activities", params=params))
    return {"activities": body, "page": data.page}


async def _get_activity(ctx: ActionContext, data: GetActivityInput) -> Any:
    params = {"include_all_efforts": "true" if data.include_all_efforts else "false"}
    return result_of(await ctx.call_api("GET", f"/activities/{data.activity_id}", params=params))


async def _athlete_stats(ctx: ActionContext, data: AthleteStatsInput) -> dict[str, Any]:
    athlete_id = data.athlete_id
    if athlete_id is None:
        athlete = result_of(await ctx.call_api("GET", "/athlete"))
        if not isinstance(athlete, dict) or not isinstance(athlete.get("id"), int):
            raise ActionError("fatal", "Strava's /athlete answer has no athlete id")
        athlete_id = athlete["id"]
    stats = result_of(await ctx.call_api("GET", f"/athletes/{athlete_id}/stats"))
    return {"athlete_id": athlete_id, **stats}


ACTIONS = (
    Action(
        "strava.list_activities",
        "strava",
        ListActivitiesInput,
        _list_activities,
        "A page of the athlete's activities (newest first), optionally in a time window",
    ),
    Action(
        "strava.get_activity",
        "strava",
        GetActivityInput,
        _get_activity,
        "One activity in detail (distance, times, laps, splits)",
    ),
    Action(
        "strava.athlete_stats",
        "strava",
        AthleteStatsInput,
        _athlete_stats,
        "The athlete's recent, year-to-date and all-time ride, run and swim totals",
    ),
)
