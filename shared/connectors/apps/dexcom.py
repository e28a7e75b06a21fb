"""Dexcom actions: estimated glucose values, user events and the data range from the v3 API
(https://developer.dexcom.com/docs/dexcomv3/). Times are sent as ``YYYY-MM-DDThh:mm:ss``
(UTC, Dexcom's systemTime); a window spans at most 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of

MAX_WINDOW = timedelta(days=30)


class WindowInput(BaseModel):
    """A time window of at most 30 days."""

    model_config = ConfigDict(extra="forbid")

    start_date: datetime = Field(description="Window start (ISO 8601; naive means UTC).")
    end_date: datetime = Field(description="Window end (ISO 8601; naive means UTC).")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        start, end = _utc(self.start_date), _utc(self.end_date)
        if end <= start:
            raise ValueError("end_date must be later than start_date")
        if end - start > MAX_WINDOW:
            raise ValueError("Dexcom serves at most 30 days per request")
        return self


class DataRangeInput(BaseModel):
    """Optionally, the time of the last sync (only newer ranges are considered)."""

    model_config = ConfigDict(extra="forbid")

    last_sync_time: datetime | None = Field(
        default=None, description="The previous sync's time (ISO 8601; naive means UTC)."
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _dexcom_time(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


async def _records(ctx: ActionContext, path: str, data: WindowInput) -> dict[str, Any]:
    params = {"startDate": _dexcom_time(data.start_date), "endDate": _dexcom_time(data.end_date)}
    body = result_of(await ctx.call_api("GET", path, params=params))
    return {"user_id": body.get("userId"), "records": body.get("records", [])}


async def _egvs(ctx: ActionContext, data: WindowInput) -> dict[str, Any]:
    return await _records(ctx, "/v3/users/self/egvs", data)


async def _events(ctx: ActionContext, data: WindowInput) -> dict[str, Any]:
    return await _records(ctx, "/v3/users/self/events", data)


async def _data_range(ctx: ActionContext, data: DataRangeInput) -> Any:
    params = {"lastSyncTime": _dexcom_time(data.last_sync_time)} if data.last_sync_time else None
    return result_of(await ctx.call_api("GET", "/v3/users/self/dataRange", params=params))


ACTIONS = (
    Action(
        "dexcom.egvs",
        "dexcom",
        WindowInput,
        _egvs,
        "Estimated glucose values (value, trend, rate) in a window of up to 30 days",
    ),
    Action(
        "dexcom.events",
        "dexcom",
        WindowInput,
        _events,
        "User-entered events (carbs, insulin, exercise, health) in a window of up to 30 days",
    ),
    Action(
        "dexcom.data_range",
        "dexcom",
        DataRangeInput,
        _data_range,
        "The earliest and latest times of the user's calibrations, EGVs and events",
    ),
)
