"""A fake Fitbit Web API (https://dev.fitbit.com/build/reference/web-api/): a day's activity
summary, sleep log and heart rate for the user ``-``. Errors have Fitbit's shape
``{"errors": [{"errorType", "fieldName"?, "message"}], "success": false}``: 401
``invalid_token``, 400 ``validation`` for a bad date or period. ``state.data["retry_after"]``
makes every call a 429 with that Retry-After (Fitbit's rate-limit answer)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

PERIODS = frozenset({"1d", "7d", "30d", "1w", "1m"})


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Fitbit's activities, sleep and heart-rate routes below ``prefix``."""

    async def guarded(request: web.Request) -> web.Response | None:
        await state.record(request)
        if not state.authorized(request):
            return _error(
                401,
                "invalid_token",
                "Access token invalid. Visit https://dev.fitbit.com/docs/oauth2 for more "
                "information on the Fitbit Web API authorization process.",
            )
        if "retry_after" in state.data:
            response = _error(429, "system", "Too Many Requests")
            response.headers["Retry-After"] = str(state.data["retry_after"])
            return response
        return None

    @routes.get(prefix + "/1/user/-/activities/date/{day}.json")
    async def activity_summary(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        if _date(request.match_info["day"]) is None:
            return _invalid_date(request.match_info["day"])
        return web.json_response(
            {
                "activities": [],
                "goals": {
                    "activeMinutes": 30,
                    "caloriesOut": 2826,
                    "distance": 8.05,
                    "steps": 10000,
                },
                "summary": {
                    "steps": 8412,
                    "caloriesOut": 2390,
                    "restingHeartRate": 61,
                    "distances": [{"activity": "total", "distance": 6.1}],
                    "fairlyActiveMinutes": 22,
                    "veryActiveMinutes": 14,
                    "sedentaryMinutes": 690,
                },
            }
        )

    @routes.get(prefix + "/1.2/user/-/sleep/date/{day}.json")
    async def sleep_log(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        if (day := _date(request.match_info["day"])) is None:
            return _invalid_date(request.match_info["day"])
        return web.json_response(
            {
                "sleep": [
                    {
                        "dateOfSleep": day.isoformat(),
                        "duration": 27720000,
                        "efficiency": 93,
                        "isMainSleep": True,
                        "logId": 26589710670,
                        "minutesAsleep": 420,
                        "type": "stages",
                        "levels": {"summary": {"deep": {"minutes": 72}, "rem": {"minutes": 95}}},
                    }
                ],
                "summary": {
                    "totalMinutesAsleep": 420,
                    "totalSleepRecords": 1,
                    "totalTimeInBed": 462,
                },
            }
        )

    @routes.get(prefix + "/1/user/-/activities/heart/date/{day}/{period}.json")
    async def heart_rate(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        if (day := _date(request.match_info["day"])) is None:
            return _invalid_date(request.match_info["day"])
        period = request.match_info["period"]
        if period not in PERIODS:
            return _error(400, "validation", f"Invalid time period: {period}", field="period")
        return web.json_response(
            {
                "activities-heart": [
                    {
                        "dateTime": day.isoformat(),
                        "value": {
                            "customHeartRateZones": [],
                            "heartRateZones": [
                                {"name": "Out of Range", "min": 30, "max": 96, "minutes": 1290},
                                {"name": "Fat Burn", "min": 96, "max": 134, "minutes": 130},
                            ],
                            "restingHeartRate": 61,
                        },
                    }
                ]
            }
        )


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _invalid_date(text: str) -> web.Response:
    return _error(400, "validation", f"Invalid date:{text}", field="date")


def _error(status: int, kind: str, message: str, *, field: str | None = None) -> web.Response:
    error: dict[str, Any] = {"errorType": kind, "message": message}
    if field is not None:
        error["fieldName"] = field
    return web.json_response({"errors": [error], "success": False}, status=status)
