"""A fake Polar AccessLink v3 (https://www.polar.com/accesslink-api/): registering the user
(``POST /v3/users`` with ``{"member-id"}``; 409 when registered already), then exercises
(``GET /v3/exercises``) and sleep (``GET /v3/users/sleep``), which refuse an unregistered
user. Errors use AccessLink's Error shape ``{"timestamp", "status", "errorType", "message",
"corrupted"}``. ``state.data["registered"]`` holds the registered member-id."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

POLAR_USER_ID = 10001


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """AccessLink's users, exercises and sleep routes below ``prefix``."""
    api = f"{prefix}/v3"

    async def guarded(request: web.Request, *, registered: bool) -> web.Response | None:
        await state.record(request)
        if not state.authorized(request):
            return _error(401, "unauthorized", "Invalid or expired access token")
        if registered and "registered" not in state.data:
            return _error(403, "forbidden", "User is not registered to the client")
        return None

    @routes.post(f"{api}/users")
    async def register(request: web.Request) -> web.Response:
        if (refused := await guarded(request, registered=False)) is not None:
            return refused
        body = state.calls[-1].body
        member_id = body.get("member-id") if isinstance(body, dict) else None
        if not isinstance(member_id, str) or not member_id:
            return _error(400, "bad_request", "member-id is required")
        if "registered" in state.data:
            return _error(409, "conflict", "User already registered to partner")
        state.data["registered"] = member_id
        return web.json_response(
            {
                "polar-user-id": POLAR_USER_ID,
                "member-id": member_id,
                "registration-date": "2026-11-26T09:00:00.000Z",
                "first-name": "Eija",
                "last-name": "K.",
                "birthdate": "1990-03-01",
                "gender": "FEMALE",
                "weight": 61.0,
                "height": 168.0,
                "extra-info": [],
            }
        )

    @routes.get(f"{api}/exercises")
    async def exercises(request: web.Request) -> web.Response:
        if (refused := await guarded(request, registered=True)) is not None:
            return refused
        for name in ("samples", "zones", "route"):
            if request.query.get(name, "false") not in ("true", "false"):
                return _error(400, "bad_request", f"{name} must be true or false")
        exercise: dict[str, Any] = {
            "id": "2AC312F",
            "upload_time": "2026-11-25T18:20:03Z",
            "polar_user": f"https://www.polaraccesslink.com/v3/users/{POLAR_USER_ID}",
            "device": "Polar Vantage V3",
            "start_time": "2026-11-25T17:00:00",
            "start_time_utc_offset": 120,
            "duration": "PT1H2M10S",
            "calories": 530,
            "distance": 10400.0,
            "heart_rate": {"average": 142, "maximum": 171},
            "sport": "RUNNING",
            "has_route": True,
            "detailed_sport_info": "RUNNING",
        }
        if request.query.get("zones") == "true":
            exercise["heart_rate_zones"] = [
                {"index": 1, "lower-limit": 110, "upper-limit": 130, "in-zone": "PT10M"}
            ]
        if request.query.get("samples") == "true":
            exercise["samples"] = [{"recording-rate": 5, "sample-type": "0", "data": "142,143,145"}]
        return web.json_response([exercise])

    @routes.get(f"{api}/users/sleep")
    async def sleep(request: web.Request) -> web.Response:
        if (refused := await guarded(request, registered=True)) is not None:
            return refused
        night = {
            "polar_user": f"https://www.polaraccesslink.com/v3/users/{POLAR_USER_ID}",
            "date": "2026-11-25",
            "sleep_start_time": "2026-11-24T23:11:00+02:00",
            "sleep_end_time": "2026-11-25T07:02:00+02:00",
            "light_sleep": 15120,
            "deep_sleep": 5340,
            "rem_sleep": 6480,
            "sleep_score": 82,
            "total_interruption_duration": 1260,
        }
        return web.json_response({"nights": [night]})


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(
        {
            "timestamp": "2026-11-26T09:00:00.000Z",
            "status": status,
            "errorType": kind,
            "message": message,
            "corrupted": False,
        },
        status=status,
    )
