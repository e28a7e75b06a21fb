"""A fake Dexcom API v3 (https://developer.dexcom.com/docs/dexcomv3/): ``/v3/users/self``
egvs, events (``startDate``/``endDate`` as ``YYYY-MM-DDThh:mm:ss``, at most 30 days apart)
and dataRange. A bad token is 401 with the API gateway's fault body; a bad window is 400."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

MAX_WINDOW = timedelta(days=30)
USER_ID = "8f789c0f-2d3a-4a57-9d4d-2c0ef1b8d5c2"
_FORMAT = "%Y-%m-%dT%H:%M:%S"


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Dexcom's egvs, events and dataRange routes below ``prefix``."""
    api = f"{prefix}/v3/users/self"

    async def guarded(request: web.Request) -> web.Response | None:
        await state.record(request)
        if not state.authorized(request):
            fault = {
                "faultstring": "Invalid Access Token",
                "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
            }
            return web.json_response({"fault": fault}, status=401)
        return None

    def windowed(record_type: str, record: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            if (refused := await guarded(request)) is not None:
                return refused
            try:
                start = datetime.strptime(request.query["startDate"], _FORMAT)
                end = datetime.strptime(request.query["endDate"], _FORMAT)
            except (KeyError, ValueError):
                return _bad_request("startDate and endDate are required as YYYY-MM-DDThh:mm:ss")
            if end <= start:
                return _bad_request("endDate must be after startDate")
            if end - start > MAX_WINDOW:
                return _bad_request("The time window between startDate and endDate exceeds 30 days")
            records = [record(start + timedelta(minutes=5 * n), n) for n in range(3)]
            return web.json_response(
                {
                    "recordType": record_type,
                    "recordVersion": "3.0",
                    "userId": USER_ID,
                    "records": records,
                }
            )

        return handler

    routes.get(f"{api}/egvs")(windowed("egv", _egv))
    routes.get(f"{api}/events")(windowed("event", _event))

    @routes.get(f"{api}/dataRange")
    async def data_range(request: web.Request) -> web.Response:
        if (refused := await guarded(request)) is not None:
            return refused
        since = request.query.get("lastSyncTime")
        if since is not None:
            try:
                datetime.strptime(since, _FORMAT)
            except ValueError:
                return _bad_request("lastSyncTime must be YYYY-MM-DDThh:mm:ss")
        window = {
            "start": {
                "systemTime": "2026-10-01T08:00:00Z",
                "displayTime": "2026-10-01T01:00:00-07:00",
            },
            "end": {
                "systemTime": "2026-11-26T08:00:00Z",
                "displayTime": "2026-11-26T00:00:00-08:00",
            },
        }
        return web.json_response(
            {
                "recordType": "dataRange",
                "recordVersion": "3.0",
                "userId": USER_ID,
                "calibrations": window,
                "egvs": window,
                "events": window,
            }
        )


def _egv(at: datetime, n: int) -> dict[str, Any]:
    return {
        "recordId": f"egv-{n}",
        "systemTime": at.strftime(_FORMAT),
        "displayTime": at.strftime(_FORMAT),
        "transmitterId": "8G1234",
        "value": 112 + n,
        "unit": "mg/dL",
        "rateUnit": "mg/dL/min",
        "trend": "flat",
        "trendRate": 0.3,
        "status": None,
        "displayDevice": "iOS",
        "transmitterGeneration": "g7",
    }


def _event(at: datetime, n: int) -> dict[str, Any]:
    return {
        "recordId": f"event-{n}",
        "systemTime": at.strftime(_FORMAT),
        "displayTime": at.strftime(_FORMAT),
        "eventType": "carbs",
        "eventSubType": None,
        "value": "45",
        "unit": "grams",
        "eventStatus": "created",
        "displayDevice": "iOS",
    }


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "message": message}, status=400)
