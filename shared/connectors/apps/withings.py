"""Withings actions: body measures, daily activity and sleep summaries
(https://developer.withings.com/api-reference/). Each call is a POST form naming its
``action``; Withings answers HTTP 200 even on errors, with ``status`` != 0 and an ``error``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, ActionError, result_of
from shared.infra.outbound import OutboundResponse

# Withings statuses meaning the access token is missing, invalid or expired (its "Response
# status" table): answered like an HTTP 401.
_UNAUTHORIZED = frozenset({100, 101, 102, 200, 401})
_RATE_LIMITED = 601


class MeasuresInput(BaseModel):
    """Which measures (Withings meastype numbers) over which time window."""

    model_config = ConfigDict(extra="forbid")

    meastypes: list[Annotated[int, Field(ge=1, le=300)]] = Field(
        min_length=1,
        max_length=40,
        description="Measure types, e.g. 1 weight (kg), 9/10 diastolic/systolic blood "
        "pressure, 11 heart pulse, 76 muscle mass.",
    )
    category: Literal[1, 2] = Field(default=1, description="1 real measures, 2 user objectives.")
    startdate: datetime = Field(description="Window start (ISO 8601; sent as a Unix time).")
    enddate: datetime = Field(description="Window end (ISO 8601; sent as a Unix time).")
    offset: int | None = Field(default=None, ge=0, description="The offset of a previous page.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.enddate < self.startdate:
            raise ValueError("enddate must not be before startdate")
        return self


class DaysInput(BaseModel):
    """A range of days (the user's local days)."""

    model_config = ConfigDict(extra="forbid")

    startdateymd: date = Field(description="First day (YYYY-MM-DD).")
    enddateymd: date = Field(description="Last day (YYYY-MM-DD), inclusive.")
    data_fields: list[Annotated[str, Field(pattern=r"^[a-z_0-9]{1,64}$")]] = Field(
        default_factory=list,
        max_length=60,
        description="Fields to return (Withings' data_fields); empty: Withings' defaults.",
    )
    offset: int | None = Field(default=None, ge=0, description="The offset of a previous page.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.enddateymd < self.startdateymd:
            raise ValueError("enddateymd must not be before startdateymd")
        return self


def withings_body(response: OutboundResponse) -> dict[str, Any]:
    """The ``body`` of a Withings answer, or the ActionError its ``status`` means."""
    answer = result_of(response)
    if not isinstance(answer, dict):
        raise ActionError("fatal", "Withings answered something other than a JSON object")
    status = answer.get("status")
    if status == 0:
        body: dict[str, Any] = answer.get("body") or {}
        return body
    error = str(answer.get("error") or "no error message")[:500]
    if status in _UNAUTHORIZED:
        raise ActionError("unauthorized", f"Withings refused the credentials: {error}", status=401)
    if status == _RATE_LIMITED:
        raise ActionError("retryable", f"Withings is rate limiting: {error}", status=429)
    raise ActionError("fatal", f"Withings rejected the call (status {status}): {error}")


def _days_form(action: str, data: DaysInput) -> dict[str, str]:
    form = {
        "action": action,
        "startdateymd": data.startdateymd.isoformat(),
        "enddateymd": data.enddateymd.isoformat(),
    }
    if data.data_fields:
        form["data_fields"] = ",".join(data.data_fields)
    if data.offset is not None:
        form["offset"] = str(data.offset)
    return form


async def _measures(ctx: ActionContext, data: MeasuresInput) -> dict[str, Any]:
    form = {
        "action": "getmeas",
        "meastypes": ",".join(str(t) for t in data.meastypes),
        "category": str(data.category),
        "startdate": str(int(data.startdate.timestamp())),
        "enddate": str(int(data.enddate.timestamp())),
    }
    if data.offset is not None:
        form["offset"] = str(data.offset)
    return withings_body(await ctx.call_api("POST", "/measure", data=form))


async def _activity(ctx: ActionContext, data: DaysInput) -> dict[str, Any]:
    form = _days_form("getactivity", data)
    return withings_body(await ctx.call_api("POST", "/v2/measure", data=form))


async def _sleep_summary(ctx: ActionContext, data: DaysInput) -> dict[str, Any]:
    form = _days_form("getsummary", data)
    return withings_body(await ctx.call_api("POST", "/v2/sleep", data=form))


ACTIONS = (
    Action(
        "withings.measures",
        "withings",
        MeasuresInput,
        _measures,
        "Body measures (weight, blood pressure, heart pulse…) in a time window",
    ),
    Action(
        "withings.activity",
        "withings",
        DaysInput,
        _activity,
        "Daily activity (steps, distance, calories, heart rate zones) for a range of days",
    ),
    Action(
        "withings.sleep_summary",
        "withings",
        DaysInput,
        _sleep_summary,
        "Nightly sleep summaries (durations, score, heart rate) for a range of days",
    ),
)
