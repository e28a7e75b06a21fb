"""Pipedrive's API v2 on a company domain (``/api/v2``): persons (create, search) and deals.
Answers are ``{"success": true, "data": ...}``; errors ``{"success": false, "error",
"error_info", "data": null, "additional_data": null}`` (401 "unauthorized access" with an
``errorCode``, 400 for a payload Pipedrive's schema refuses).

``state.data``: ``persons``, ``deals`` (id → object)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
SEARCH_FIELDS = frozenset({"name", "email", "phone", "notes", "custom_fields"})
OWNER_ID = 13
_ids = itertools.count(101)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure(status: int, message: str, **more: Any) -> web.Response:
    """Pipedrive's error body."""
    body = {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
        **more,
    }
    return web.json_response(body, status=status)


def _unauthorized() -> web.Response:
    return failure(401, "unauthorized access", errorCode=401)


def _bad_contacts(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, dict) and isinstance(v.get("value"), str) for v in value
    ):
        return f"Validation failed: {name}: must be an array of objects with a string value"
    return None


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Pipedrive's v2 person and deal endpoints below ``prefix``."""
    persons: dict[int, dict[str, Any]] = state.data.setdefault("persons", {})
    deals: dict[int, dict[str, Any]] = state.data.setdefault("deals", {})

    @routes.post(f"{prefix}/api/v2/persons")
    async def create_person(request: web.Request) -> web.Response:
        call = await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        body = call.body if isinstance(call.body, dict) else {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return failure(400, "Validation failed: name: Parameter 'name' must be given")
        problem = _bad_contacts("emails", body.get("emails")) or _bad_contacts(
            "phones", body.get("phones")
        )
        if problem:
            return failure(400, problem)
        person_id = next(_ids)
        person = {
            "id": person_id,
            "name": name,
            "owner_id": body.get("owner_id", OWNER_ID),
            "org_id": body.get("org_id"),
            "add_time": _now(),
            "update_time": None,
            "emails": body.get("emails", []),
            "phones": body.get("phones", []),
            "is_deleted": False,
            "visible_to": 3,
        }
        persons[person_id] = person
        return web.json_response({"success": True, "data": person})

    @routes.post(f"{prefix}/api/v2/deals")
    async def create_deal(request: web.Request) -> web.Response:
        call = await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        body = call.body if isinstance(call.body, dict) else {}
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return failure(400, "Validation failed: title: Parameter 'title' must be given")
        person_id = body.get("person_id")
        if person_id is not None and person_id not in persons:
            return failure(400, f"Person with id {person_id} does not exist")
        deal_id = next(_ids)
        deal = {
            "id": deal_id,
            "title": title,
            "value": body.get("value", 0),
            "currency": body.get("currency", "USD"),
            "person_id": person_id,
            "org_id": body.get("org_id"),
            "stage_id": body.get("stage_id", 1),
            "status": body.get("status", "open"),
            "expected_close_date": body.get("expected_close_date"),
            "owner_id": OWNER_ID,
            "add_time": _now(),
        }
        deals[deal_id] = deal
        return web.json_response({"success": True, "data": deal})

    @routes.get(f"{prefix}/api/v2/persons/search")
    async def search_persons(request: web.Request) -> web.Response:
        await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        term = request.query.get("term", "")
        exact = request.query.get("exact_match") == "true"
        fields = request.query.get("fields", "name,email,phone").split(",")
        if len(term) < (1 if exact else 2):
            return failure(400, "Validation failed: term: must be at least 2 characters long")
        if not set(fields) <= SEARCH_FIELDS:
            return failure(
                400, f"Validation failed: fields: must be one of {sorted(SEARCH_FIELDS)}"
            )

        def matches(value: str) -> bool:
            return value.lower() == term.lower() if exact else term.lower() in value.lower()

        items = []
        for person in persons.values():
            values = {
                "name": [person["name"]],
                "email": [e["value"] for e in person["emails"]],
                "phone": [p["value"] for p in person["phones"]],
            }
            if any(matches(v) for f in fields for v in values.get(f, [])):
                items.append(
                    {
                        "result_score": 1.0 if exact else 0.5,
                        "item": {
                            "id": person["id"],
                            "type": "person",
                            "name": person["name"],
                            "emails": values["email"],
                            "phones": values["phone"],
                            "visible_to": person["visible_to"],
                            "owner": {"id": person["owner_id"]},
                            "organization": None,
                            "custom_fields": [],
                            "notes": [],
                        },
                    }
                )
        limit = int(request.query.get("limit", "100"))
        return web.json_response(
            {
                "success": True,
                "data": {"items": items[:limit]},
                "additional_data": {"next_cursor": None},
            }
        )
