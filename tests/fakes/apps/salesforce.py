"""Salesforce's REST API on an org's instance (``/services/data/vNN.0``): sObject rows (create,
update) and SOQL queries of the form ``SELECT f, … FROM Type [WHERE Field = 'value']``.
Errors in Salesforce's shape, a list of ``{"message", "errorCode", "fields"?}``: 401
INVALID_SESSION_ID, 400 REQUIRED_FIELD_MISSING / INVALID_FIELD / MALFORMED_QUERY, 404
NOT_FOUND.

``state.data["records"]``: sObject type → record id → fields."""

from __future__ import annotations

import itertools
import re
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

# Each type's key prefix (the first three characters of its ids), required and known fields.
SOBJECTS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "Account": ("001", frozenset({"Name"}), frozenset({"Name", "Phone", "Website", "Industry"})),
    "Contact": (
        "003",
        frozenset({"LastName"}),
        frozenset({"FirstName", "LastName", "Email", "Phone", "Title", "AccountId"}),
    ),
    "Lead": (
        "00Q",
        frozenset({"LastName", "Company"}),
        frozenset({"FirstName", "LastName", "Company", "Email", "Phone", "Title", "Status"}),
    ),
}
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*=\s*'(?P<value>[^']*)')?\s*$",
    re.IGNORECASE,
)
_ids = itertools.count(1)


def errors(status: int, message: str, code: str, fields: list[str] | None = None) -> web.Response:
    """Salesforce's error body: a list of errors."""
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return web.json_response([item], status=status)


def _unauthorized() -> web.Response:
    return errors(401, "Session expired or invalid", "INVALID_SESSION_ID")


def _not_found() -> web.Response:
    return errors(404, "The requested resource does not exist", "NOT_FOUND")


def _new_id(sobject: str) -> str:
    return f"{SOBJECTS[sobject][0]}5g00000{next(_ids):05d}AAA"[:18]


def _bad_fields(sobject: str, fields: Any, *, creating: bool) -> web.Response | None:
    if not isinstance(fields, dict):
        return errors(400, "Json Deserialization failed on token 'null'", "JSON_PARSER_ERROR")
    _, required, known = SOBJECTS[sobject]
    for name in fields:
        if name not in known and not name.endswith("__c"):
            return errors(
                400, f"No such column '{name}' on sobject of type {sobject}", "INVALID_FIELD"
            )
    missing = sorted(required - {k for k, v in fields.items() if v not in (None, "")})
    if creating and missing:
        return errors(
            400,
            f"Required fields are missing: [{', '.join(missing)}]",
            "REQUIRED_FIELD_MISSING",
            missing,
        )
    return None


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """An org's REST API below ``prefix`` (any API version)."""
    records: dict[str, dict[str, dict[str, Any]]] = state.data.setdefault(
        "records", {name: {} for name in SOBJECTS}
    )
    base = f"{prefix}/services/data/{{version:v[0-9]+\\.0}}"

    @routes.post(base + "/sobjects/{sobject:\\w+}{slash:/?}")
    async def create(request: web.Request) -> web.Response:
        call = await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        sobject = request.match_info["sobject"]
        if sobject not in SOBJECTS:
            return _not_found()
        problem = _bad_fields(sobject, call.body, creating=True)
        if problem is not None:
            return problem
        record_id = _new_id(sobject)
        records[sobject][record_id] = dict(call.body)
        return web.json_response({"id": record_id, "success": True, "errors": []}, status=201)

    @routes.patch(base + "/sobjects/{sobject:\\w+}/{record_id:\\w+}")
    async def update(request: web.Request) -> web.Response:
        call = await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        sobject, record_id = request.match_info["sobject"], request.match_info["record_id"]
        if record_id not in records.get(sobject, {}):
            return _not_found()
        problem = _bad_fields(sobject, call.body, creating=False)
        if problem is not None:
            return problem
        records[sobject][record_id].update(call.body)
        return web.Response(status=204)

    @routes.get(base + "/query")
    async def query(request: web.Request) -> web.Response:
        await state.record(request)
        if not state.authorized(request):
            return _unauthorized()
        match = _SOQL.match(request.query.get("q", ""))
        if match is None:
            return errors(400, "unexpected token: query is not valid SOQL", "MALFORMED_QUERY")
        sobject = match["sobject"]
        if sobject not in SOBJECTS:
            return errors(
                400,
                f"sObject type '{sobject}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name.",
                "INVALID_TYPE",
            )
        fields = [f.strip() for f in match["fields"].split(",")]
        version = request.match_info["version"]
        rows = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/{version}/sobjects/{sobject}/{record_id}",
                },
                **{f: record_id if f == "Id" else row.get(f) for f in fields},
            }
            for record_id, row in records[sobject].items()
            if match["field"] is None or str(row.get(match["field"])) == match["value"]
        ]
        return web.json_response({"totalSize": len(rows), "done": True, "records": rows})
