"""A fake Oura API v2 (https://cloud.ouraring.com/v2/docs): the usercollection routes the
actions read. A bad token is ``401 {"detail": …}``; a date Oura cannot parse is FastAPI's
``422 {"detail": [{"loc", "msg", "type"}]}``; a reversed or too long window is
``400 {"detail": …}``. ``state.data[<collection>]`` (e.g. ``"daily_sleep"``) overrides the
records served."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

# Oura serves heart rate for at most 30 days per request.
MAX_HEART_RATE_WINDOW = timedelta(days=30)


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Oura's daily_sleep, daily_activity and heartrate collections below ``prefix``."""

    async def guarded(request: web.Request) -> web.Response | None:
        await state.record(request)
        if not state.authorized(request):
            return web.json_response({"detail": "Invalid or expired access token"}, status=401)
        return None

    def daily(name: str, record: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            if (refused := await guarded(request)) is not None:
                return refused
            try:
                end = _day(request, "end_date") or date(2026, 11, 26)
                start = _day(request, "start_date") or end - timedelta(days=7)
            except _Unparsable as exc:
                return _unprocessable(exc.name, "invalid date format")
            if start > end:
                return web.json_response(
                    {"detail": "Start date is greater than end date"}, status=400
                )
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
            data = state.data.get(name) or [record(d) for d in days]
            return web.json_response({"data": data, "next_token": None})

        return handler

    async def heartrate(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        try:
            start = _moment(request, "start_datetime")
            end = _moment(request, "end_datetime")
        except _Unparsable as exc:
            return _unprocessable(exc.name, "invalid datetime format")
        if start and end:
            if start > end:
                return web.json_response(
                    {"detail": "Start datetime is greater than end datetime"}, status=400
                )
            if end - start > MAX_HEART_RATE_WINDOW:
                return web.json_response(
                    {"detail": "Date range can be at most 30 days"}, status=400
                )
        first = start or datetime.fromisoformat("2026-11-26T08:00:00+00:00")
        data = [
            {
                "bpm": 58 + n,
                "source": "awake",
                "timestamp": (first + timedelta(minutes=5 * n)).isoformat(),
            }
            for n in range(3)
        ]
        return web.json_response({"data": data, "next_token": None})

    routes.get(f"{prefix}/v2/usercollection/daily_sleep")(daily("daily_sleep", _sleep_day))
    routes.get(f"{prefix}/v2/usercollection/daily_activity")(daily("daily_activity", _activity_day))
    routes.get(f"{prefix}/v2/usercollection/heartrate")(heartrate)


class _Unparsable(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _day(request: web.Request, name: str) -> date | None:
    value = request.query.get(name)
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise _Unparsable(name) from None


def _moment(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        raise _Unparsable(name) from None


def _unprocessable(name: str, message: str) -> web.Response:
    detail = [{"loc": ["query", name], "msg": message, "type": "value_error"}]
    return web.json_response({"detail": detail}, status=422)


def _sleep_day(day: date) -> dict[str, Any]:
    return {
        "id": f"sleep-{day.isoformat()}",
        "day": day.isoformat(),
        "score": 81,
        "timestamp": f"{day.isoformat()}T00:00:00+00:00",
        "contributors": {"deep_sleep": 77, "efficiency": 92, "rem_sleep": 85, "total_sleep": 80},
    }


def _activity_day(day: date) -> dict[str, Any]:
    return {
        "id": f"activity-{day.isoformat()}",
        "day": day.isoformat(),
        "score": 88,
        "steps": 9120,
        "active_calories": 512,
        "total_calories": 2480,
        "timestamp": f"{day.isoformat()}T04:00:00+00:00",
    }
