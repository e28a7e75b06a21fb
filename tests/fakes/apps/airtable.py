"""A fake of Airtable's Web API (airtable.com/developers/web/api/introduction) below
``https://api.airtable.com``: ``GET`` / ``POST /v0/{baseId}/{tableIdOrName}`` and
``PATCH /v0/{baseId}/{tableIdOrName}/{recordId}``.

Errors have Airtable's shape ``{"error": {"type", "message"}}``: 401
``AUTHENTICATION_REQUIRED``, 403 ``INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`` for an unknown
base or table, 404 ``MODEL_ID_NOT_FOUND`` for an unknown record, 422 for a bad payload
(``INVALID_RECORDS``, ``UNKNOWN_FIELD_NAME``, ``INVALID_VALUE_FOR_COLUMN`` — a string in a
number field is accepted only with ``typecast``, ``INVALID_REQUEST_UNKNOWN``), and 429
``RATE_LIMIT_REACHED`` without a Retry-After header (Airtable asks for 30 s).
``filterByFormula`` and ``view`` are accepted but not evaluated.

``state.data``: ``bases`` (by id: tables by name, each with ``id``, ``fields`` name → type,
``records`` by id), ``rate_limited`` (the next call answers 429)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState, Recorded

BASE_ID = "appLkNDICXNqxSDhG"
TABLE_ID = "tblrEBL7jEnF0lPIb"
_record_numbers = itertools.count(1)


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "bases",
        {
            BASE_ID: {
                "Sales Leads": {
                    "id": TABLE_ID,
                    "fields": {
                        "Name": "singleLineText",
                        "Status": "singleSelect",
                        "Seats": "number",
                    },
                    "records": {},
                }
            }
        },
    )


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


def _refusal(request: web.Request, state: AppState) -> web.Response | None:
    if state.data.pop("rate_limited", None) is not None:
        body = {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded."}]}
        return web.json_response(body, status=429)
    if not state.authorized(request):
        return _error(401, "AUTHENTICATION_REQUIRED", "Authentication required")
    return None


def _convert(
    table: dict[str, Any], fields: Any, *, typecast: bool
) -> dict[str, Any] | web.Response:
    """The fields to store, or the 422 Airtable answers for them."""
    if not isinstance(fields, dict):
        return _error(422, "INVALID_RECORDS", 'Could not find field "fields" in the request body')
    stored: dict[str, Any] = {}
    for name, value in fields.items():
        kind = table["fields"].get(name)
        if kind is None:
            return _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        if kind == "number" and not isinstance(value, int | float):
            try:
                value = float(value) if typecast else None
            except (TypeError, ValueError):
                value = None
            if value is None:
                return _error(
                    422,
                    "INVALID_VALUE_FOR_COLUMN",
                    f'Field "{name}" cannot accept the provided value',
                )
        stored[name] = value
    return stored


def _record(fields: dict[str, Any]) -> dict[str, Any]:
    record_id = f"rec{next(_record_numbers):014d}"
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": record_id, "createdTime": created, "fields": fields}


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Records: create, list, update."""
    _seed(state)
    bases: dict[str, dict[str, dict[str, Any]]] = state.data["bases"]

    def _table(request: web.Request) -> dict[str, Any] | None:
        tables = bases.get(request.match_info["base_id"], {})
        wanted = request.match_info["table"]
        return tables.get(wanted) or next((t for t in tables.values() if t["id"] == wanted), None)

    def _no_table() -> web.Response:
        return _error(
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your "
            "user and your token have the required permissions, and that the model names "
            "and/or ids are correct.",
        )

    async def _arrive(
        request: web.Request,
    ) -> tuple[Recorded, dict[str, Any]] | web.Response:
        """Record the call; then the table it names, or Airtable's refusal or not-found."""
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        table = _table(request)
        return _no_table() if table is None else (call, table)

    @routes.post(f"{prefix}/v0/{{base_id}}/{{table}}")
    async def create(request: web.Request) -> web.Response:
        arrived = await _arrive(request)
        if isinstance(arrived, web.Response):
            return arrived
        call, table = arrived
        body = call.body if isinstance(call.body, dict) else {}
        records = body.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= 10:
            return _error(
                422, "INVALID_RECORDS", "You must provide an array of up to 10 record objects"
            )
        made = []
        for record in records:
            fields = _convert(
                table, (record or {}).get("fields"), typecast=bool(body.get("typecast"))
            )
            if isinstance(fields, web.Response):
                return fields
            made.append(_record(fields))
        table["records"] |= {r["id"]: r for r in made}
        return web.json_response({"records": made})

    @routes.get(f"{prefix}/v0/{{base_id}}/{{table}}")
    async def list_records(request: web.Request) -> web.Response:
        arrived = await _arrive(request)
        if isinstance(arrived, web.Response):
            return arrived
        call, table = arrived
        try:
            page_size = int(call.query.get("pageSize", 100))
            limit = int(call.query.get("maxRecords", 0)) or None
            start = int(call.query.get("offset") or 0)
        except ValueError:
            return _error(
                422, "INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed"
            )
        if not 1 <= page_size <= 100:
            return _error(
                422, "INVALID_REQUEST_UNKNOWN", "Invalid request: pageSize must be at most 100"
            )
        records = list(table["records"].values())[:limit]
        page = records[start : start + page_size]
        answer: dict[str, Any] = {"records": page}
        if start + page_size < len(records):
            answer["offset"] = str(start + page_size)
        return web.json_response(answer)

    @routes.patch(f"{prefix}/v0/{{base_id}}/{{table}}/{{record_id}}")
    async def update(request: web.Request) -> web.Response:
        arrived = await _arrive(request)
        if isinstance(arrived, web.Response):
            return arrived
        call, table = arrived
        record = table["records"].get(request.match_info["record_id"])
        if record is None:
            return _error(
                404,
                "MODEL_ID_NOT_FOUND",
                f'Could not find a record with ID "{request.match_info["record_id"]}".',
            )
        body = call.body if isinstance(call.body, dict) else {}
        fields = _convert(table, body.get("fields"), typecast=bool(body.get("typecast")))
        if isinstance(fields, web.Response):
            return fields
        record["fields"] |= fields
        return web.json_response(record)
