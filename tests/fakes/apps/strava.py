"""A fake Strava API v3 (https://developers.strava.com/docs/reference/) below ``/api/v3``:
the authenticated athlete, their activities, one activity, and athlete stats. Errors use
Strava's Fault shape ``{"message", "errors": [{"resource", "field", "code"}]}``: 401
Authorization Error, 400 Bad Request for a bad parameter, 404 Record Not Found.
``state.data["athlete_id"]`` is the connected athlete (default 134815)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

MAX_PER_PAGE = 200
ACTIVITY_IDS = (154504250376, 154504250377)


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Strava's athlete, activities and stats routes below ``prefix``."""
    api = f"{prefix}/api/v3"

    async def guarded(request: web.Request) -> web.Response | None:
        await state.record(request)
        if not state.authorized(request):
            return _fault(401, "Authorization Error", "Athlete", "access_token", "invalid")
        return None

    def athlete_id() -> int:
        return int(state.data.get("athlete_id", 134815))

    @routes.get(f"{api}/athlete")
    async def athlete(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        return web.json_response(
            {"id": athlete_id(), "resource_state": 2, "firstname": "Marianne", "lastname": "T."}
        )

    @routes.get(f"{api}/athlete/activities")
    async def activities(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        for name in ("before", "after", "page", "per_page"):
            value = request.query.get(name)
            if value is not None and not value.isdigit():
                return _fault(400, "Bad Request", "Application", name, "invalid")
        if int(request.query.get("per_page", "30")) > MAX_PER_PAGE:
            return _fault(400, "Bad Request", "Application", "per_page", "invalid")
        page = int(request.query.get("page", "1"))
        listed = (
            [_activity(i, athlete_id(), detailed=False) for i in ACTIVITY_IDS] if page == 1 else []
        )
        return web.json_response(listed)

    @routes.get(api + "/activities/{id}")
    async def activity(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        raw = request.match_info["id"]
        if not raw.isdigit() or int(raw) not in ACTIVITY_IDS:
            return _fault(404, "Record Not Found", "Activity", "id", "invalid")
        return web.json_response(_activity(int(raw), athlete_id(), detailed=True))

    @routes.get(api + "/athletes/{id}/stats")
    async def stats(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        if request.match_info["id"] != str(athlete_id()):
            # Strava serves stats of the authenticated athlete only.
            return _fault(403, "Authorization Error", "Athlete", "id", "invalid")
        totals = {
            "count": 12,
            "distance": 84512.3,
            "moving_time": 28800,
            "elapsed_time": 30120,
            "elevation_gain": 610.0,
        }
        return web.json_response(
            {
                "biggest_ride_distance": 112034.5,
                "biggest_climb_elevation_gain": 802.1,
                "recent_ride_totals": totals,
                "recent_run_totals": totals,
                "recent_swim_totals": {**totals, "count": 0, "distance": 0.0},
                "ytd_ride_totals": totals,
                "ytd_run_totals": totals,
                "ytd_swim_totals": totals,
                "all_ride_totals": totals,
                "all_run_totals": totals,
                "all_swim_totals": totals,
            }
        )


def _activity(activity_id: int, athlete: int, *, detailed: bool) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": activity_id,
        "resource_state": 3 if detailed else 2,
        "athlete": {"id": athlete, "resource_state": 1},
        "name": "Morning Run",
        "distance": 10021.4,
        "moving_time": 3105,
        "elapsed_time": 3240,
        "total_elevation_gain": 48.0,
        "type": "Run",
        "sport_type": "Run",
        "start_date": "2026-11-25T06:31:00Z",
        "average_heartrate": 151.2,
    }
    if detailed:
        found |= {"calories": 702.0, "laps": [{"id": 1, "lap_index": 1, "distance": 10021.4}]}
    return found


def _fault(status: int, message: str, resource: str, field: str, code: str) -> web.Response:
    errors = [{"resource": resource, "field": field, "code": code}]
    return web.json_response({"message": message, "errors": errors}, status=status)
