"""HubSpot's CRM v3 objects API (api.hubapi.com): contacts (create, update, search), deals and
notes with associations. Errors in HubSpot's shape: ``{"status": "error", "message",
"correlationId", "category"}`` (400 VALIDATION_ERROR, 401 INVALID_AUTHENTICATION, 404
OBJECT_NOT_FOUND, 409 CONFLICT for a second contact with an email).

``state.data``: ``contacts``, ``deals``, ``notes`` (id → object)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

CONTACT_PROPERTIES = frozenset(
    {"email", "firstname", "lastname", "phone", "company", "jobtitle", "lifecyclestage", "website"}
)
DEAL_PROPERTIES = frozenset({"dealname", "dealstage", "pipeline", "amount", "closedate"})
NOTE_PROPERTIES = frozenset({"hs_note_body", "hs_timestamp"})
DEAL_STAGES = frozenset(
    {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "closedwon", "closedlost"}
)
# HubSpot-defined association types: deal → contact, note → contact.
ASSOCIATION_TYPES = {"deals": 3, "notes": 202}
_ids = itertools.count(51)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(status: int, message: str, category: str, **more: Any) -> web.Response:
    """HubSpot's error body."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **more,
    }
    return web.json_response(body, status=status)


def _unauthorized() -> web.Response:
    return error(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
        "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def _invalid_properties(properties: dict[str, Any], known: frozenset[str]) -> web.Response | None:
    problems = [
        {
            "isValid": False,
            "message": f'Property "{name}" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": name,
        }
        for name in properties
        if name not in known
    ]
    problems += [
        {
            "isValid": False,
            "message": f"{value!r} is not a valid value for {name}",
            "error": "INVALID_OPTION",
            "name": name,
        }
        for name, value in properties.items()
        if name == "dealstage" and value not in DEAL_STAGES
    ]
    if problems:
        return error(
            400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR"
        )
    return None


def _as_object(object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    now = _now()
    return {
        "id": object_id,
        "properties": {**properties, "hs_object_id": object_id, "createdate": now},
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
    }


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """HubSpot's CRM object endpoints below ``prefix``."""
    objects: dict[str, dict[str, dict[str, Any]]] = {
        kind: state.data.setdefault(kind, {}) for kind in ("contacts", "deals", "notes")
    }

    async def body_of(request: web.Request) -> Any:
        await state.record(request)
        return state.calls[-1].body

    def bad_associations(kind: str, associations: Any) -> web.Response | None:
        for association in associations or []:
            target = (association.get("to") or {}).get("id")
            expected: list[dict[str, Any]] = [
                {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ASSOCIATION_TYPES[kind],
                }
            ]
            if association.get("types") != expected or target not in objects["contacts"]:
                return error(400, f"Invalid association to contact {target}", "VALIDATION_ERROR")
        return None

    async def create(request: web.Request, kind: str, known: frozenset[str]) -> web.Response:
        if not state.authorized(request):
            await state.record(request)
            return _unauthorized()
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")
        properties = body.get("properties")
        if not isinstance(properties, dict):
            return error(
                400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR"
            )
        problem = _invalid_properties(properties, known) or bad_associations(
            kind, body.get("associations")
        )
        if problem is not None:
            return problem
        if kind == "contacts" and properties.get("email"):
            email = properties["email"]
            same = (
                i for i, c in objects["contacts"].items() if c["properties"].get("email") == email
            )
            existing = next(same, None)
            if existing is not None:
                return error(409, f"Contact already exists. Existing ID: {existing}", "CONFLICT")
        if kind == "notes" and "hs_timestamp" not in properties:
            return error(400, "hs_timestamp is required", "VALIDATION_ERROR")
        created = _as_object(str(next(_ids)), properties)
        objects[kind][created["id"]] = created
        return web.json_response(created, status=201)

    @routes.post(f"{prefix}/crm/v3/objects/contacts")
    async def create_contact(request: web.Request) -> web.Response:
        return await create(request, "contacts", CONTACT_PROPERTIES)

    @routes.post(f"{prefix}/crm/v3/objects/deals")
    async def create_deal(request: web.Request) -> web.Response:
        return await create(request, "deals", DEAL_PROPERTIES)

    @routes.post(f"{prefix}/crm/v3/objects/notes")
    async def create_note(request: web.Request) -> web.Response:
        return await create(request, "notes", NOTE_PROPERTIES)

    @routes.patch(f"{prefix}/crm/v3/objects/contacts/{{contact_id}}")
    async def update_contact(request: web.Request) -> web.Response:
        if not state.authorized(request):
            await state.record(request)
            return _unauthorized()
        body = await body_of(request)
        contact = objects["contacts"].get(request.match_info["contact_id"])
        if contact is None:
            return error(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            return error(
                400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR"
            )
        problem = _invalid_properties(properties, CONTACT_PROPERTIES)
        if problem is not None:
            return problem
        contact["properties"].update(properties)
        contact["updatedAt"] = _now()
        return web.json_response(contact)

    @routes.post(f"{prefix}/crm/v3/objects/contacts/search")
    async def search_contacts(request: web.Request) -> web.Response:
        if not state.authorized(request):
            await state.record(request)
            return _unauthorized()
        body = await body_of(request)
        try:
            (group,) = body["filterGroups"]
            filters = group["filters"]
            limit = int(body.get("limit", 10))
            wanted = body.get("properties") or ["email", "firstname", "lastname"]
        except (KeyError, TypeError, ValueError):
            return error(400, "Invalid input JSON: filterGroups", "VALIDATION_ERROR")
        found = [
            c
            for c in objects["contacts"].values()
            if all(
                f.get("operator") == "EQ"
                and c["properties"].get(f.get("propertyName")) == f.get("value")
                for f in filters
            )
        ]
        results = [{**c, "properties": {k: c["properties"].get(k) for k in wanted}} for c in found][
            :limit
        ]
        return web.json_response({"total": len(found), "results": results})
