"""A fake WHOOP developer API v2 (https://developer.whoop.com/api/): the recovery, sleep and
cycle collections below ``/developer``, each ``{"records": […], "next_token": …}`` paged with
``limit`` (at most 25) and ``nextToken``. A bad token is 401, a bad parameter 400, both with a
``message``. ``state.data["records"]`` sets how many records each collection holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

MAX_LIMIT = 25


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """WHOOP's recovery, activity/sleep and cycle collections below ``prefix``."""

    def collection(record: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            await state.record(request)
            if not state.authorized(request):
                return web.json_response({"message": "Authorization was not valid"}, status=401)
            query = request.query
            try:
                limit = int(query.get("limit", "10"))
                start = _moment(query.get("start"))
                end = _moment(query.get("end"))
                offset = int(query.get("nextToken", "0"))
            except ValueError as exc:
                return web.json_response({"message": str(exc)}, status=400)
            if not 1 <= limit <= MAX_LIMIT:
                return web.json_response({"message": "limit must be between 1 and 25"}, status=400)
            if start and end and end < start:
                return web.json_response({"message": "end must be after start"}, status=400)
            total = int(state.data.get("records", 3))
            shown = range(offset, min(total, offset + limit))
            newest = end or datetime.fromisoformat("2026-11-26T07:00:00+00:00")
            records = [record(n, newest - timedelta(days=n)) for n in shown]
            next_token = str(offset + limit) if offset + limit < total else None
            return web.json_response({"records": records, "next_token": next_token})

        return handler

    routes.get(f"{prefix}/developer/v2/recovery")(collection(_recovery))
    routes.get(f"{prefix}/developer/v2/activity/sleep")(collection(_sleep))
    routes.get(f"{prefix}/developer/v2/cycle")(collection(_cycle))


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value}") from None


def _recovery(n: int, when: datetime) -> dict[str, Any]:
    return {
        "cycle_id": 93845 - n,
        "sleep_id": f"ecfc6a15-4661-442f-a9a4-f160dd7afae{n % 10}",
        "user_id": 10129,
        "created_at": when.isoformat(),
        "updated_at": when.isoformat(),
        "score_state": "SCORED",
        "score": {
            "recovery_score": 44 + n,
            "resting_heart_rate": 64,
            "hrv_rmssd_milli": 31.8,
            "spo2_percentage": 95.6,
            "skin_temp_celsius": 33.7,
            "user_calibrating": False,
        },
    }


def _sleep(n: int, when: datetime) -> dict[str, Any]:
    return {
        "id": f"ecfc6a15-4661-442f-a9a4-f160dd7afae{n % 10}",
        "cycle_id": 93845 - n,
        "user_id": 10129,
        "start": (when - timedelta(hours=8)).isoformat(),
        "end": when.isoformat(),
        "nap": False,
        "score_state": "SCORED",
        "score": {
            "sleep_performance_percentage": 98,
            "respiratory_rate": 16.1,
            "sleep_efficiency_percentage": 91.7,
        },
    }


def _cycle(n: int, when: datetime) -> dict[str, Any]:
    return {
        "id": 93845 - n,
        "user_id": 10129,
        "start": (when - timedelta(hours=24)).isoformat(),
        "end": when.isoformat(),
        "timezone_offset": "-05:00",
        "score_state": "SCORED",
        "score": {
            "strain": 5.29,
            "kilojoule": 8288.3,
            "average_heart_rate": 68,
            "max_heart_rate": 141,
        },
    }
