"""A fake Withings API (https://developer.withings.com/api-reference/): ``POST /measure``
(getmeas), ``POST /v2/measure`` (getactivity) and ``POST /v2/sleep`` (getsummary), each a form
naming its ``action``. Like Withings, every answer is HTTP 200 ``{"status": N, "body": …}``:
0 on success, 401 with an ``error`` for a bad token, 2554 for an unknown action, 503 for
invalid parameters; ``state.data["rate_limited"]`` answers 601 (too many requests)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

# Withings' measure types (the getmeas "meastype" table) and the unit exponent each is sent
# with; a type outside the table is refused as an invalid parameter.
MEASTYPES = {
    **{t: -3 for t in (1, 5, 6, 8, 76, 77, 88, 168, 169, 170, 173, 174, 175)},
    **{t: -2 for t in (4, 91, 123, 226, 227, 229)},
    **{t: -1 for t in (12, 71, 73)},
    **{t: 0 for t in (9, 10, 11, 54, 130, 135, 136, 137, 138, 139, 155, 167, 196)},
}


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Withings' measure, activity and sleep services below ``prefix``."""

    def service(action: str, answer: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            call = await state.record(request)
            if not state.authorized(request):
                return _status(
                    401,
                    "XRequestID: Not provided invalid_token: The access token provided is invalid",
                )
            if state.data.get("rate_limited"):
                return _status(601, "Too Many Request")
            form = call.body if isinstance(call.body, dict) else {}
            if form.get("action") != action:
                return _status(2554, "Unknown action")
            try:
                body = answer(form)
            except ValueError as exc:
                return _status(503, f"Invalid Params: {exc}")
            return web.json_response({"status": 0, "body": body})

        return handler

    routes.post(f"{prefix}/measure")(service("getmeas", _getmeas))
    routes.post(f"{prefix}/v2/measure")(service("getactivity", _getactivity))
    routes.post(f"{prefix}/v2/sleep")(service("getsummary", _getsummary))


def _int(form: dict[str, str], name: str) -> int:
    try:
        return int(form[name])
    except (KeyError, ValueError):
        raise ValueError(f"{name} must be an integer") from None


def _getmeas(form: dict[str, str]) -> dict[str, Any]:
    start, end = _int(form, "startdate"), _int(form, "enddate")
    if end < start:
        raise ValueError("enddate is before startdate")
    raw = form.get("meastypes") or form.get("meastype") or ""
    try:
        types = [int(t) for t in raw.split(",")]
    except ValueError:
        raise ValueError("meastypes must be integers") from None
    unknown = [t for t in types if t not in MEASTYPES]
    if unknown:
        raise ValueError(f"unknown meastype {unknown[0]}")
    group = {
        "grpid": 5012345678,
        "attrib": 0,
        "date": start + 3600,
        "created": start + 3610,
        "modified": start + 3610,
        "category": _int(form, "category") if "category" in form else 1,
        "deviceid": "d2c7b7b5d4f0",
        "measures": [
            {"value": 72450 + t, "type": t, "unit": MEASTYPES[t], "algo": 0, "fm": 3} for t in types
        ],
        "comment": None,
    }
    return {
        "updatetime": end,
        "timezone": "Europe/Paris",
        "measuregrps": [group],
        "more": 0,
        "offset": 0,
    }


def _days(form: dict[str, str]) -> list[date]:
    try:
        start = date.fromisoformat(form["startdateymd"])
        end = date.fromisoformat(form["enddateymd"])
    except (KeyError, ValueError):
        raise ValueError("startdateymd and enddateymd must be YYYY-MM-DD") from None
    if end < start:
        raise ValueError("enddateymd is before startdateymd")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _getactivity(form: dict[str, str]) -> dict[str, Any]:
    activities = [
        {
            "date": d.isoformat(),
            "timezone": "Europe/Paris",
            "steps": 7300,
            "distance": 5480.2,
            "calories": 310.5,
            "hr_average": 74,
            "brand": 18,
            "is_tracker": True,
        }
        for d in _days(form)
    ]
    return {"activities": activities, "more": False, "offset": 0}


def _getsummary(form: dict[str, str]) -> dict[str, Any]:
    series = [
        {
            "date": d.isoformat(),
            "timezone": "Europe/Paris",
            "model": 16,
            "data": {
                "deepsleepduration": 5400,
                "lightsleepduration": 13200,
                "remsleepduration": 6000,
                "sleep_score": 79,
                "hr_average": 57,
            },
        }
        for d in _days(form)
    ]
    return {"series": series, "more": False, "offset": 0}


def _status(status: int, error: str) -> web.Response:
    return web.json_response({"status": status, "body": {}, "error": error})
