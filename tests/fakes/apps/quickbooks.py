"""QuickBooks Online's Accounting API (``/v3/company/{realmId}``): customers, invoices and
queries (``select * from Customer [where Field = 'value']``). JSON only when asked with
``Accept: application/json`` (XML otherwise, as the real one). Answers are ``{"<Entity>":
{...}, "time": ...}``; errors ``{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type": "ValidationFault"}, "time"}`` and, for a bad token, the lower-case
``{"fault": {"error": [...], "type": "AUTHENTICATION"}}`` Intuit's gateway answers.

``state.data``: ``realm_id`` (the company the tokens are for), ``customers``, ``invoices``."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

REALM_ID = "9341452901234567"
_QUERY = re.compile(
    r"^\s*select\s+\*\s+from\s+(?P<entity>\w+)(?:\s+where\s+(?P<field>\w+)\s*=\s*'(?P<value>[^']*)')?"
    r"(?:\s+maxresults\s+(?P<max>\d+))?\s*$",
    re.IGNORECASE,
)
_ids = itertools.count(58)


def _time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fault(status: int, message: str, detail: str, code: str) -> web.Response:
    """Intuit's validation fault."""
    error = {"Message": message, "Detail": detail, "code": code, "element": ""}
    body = {"Fault": {"Error": [error], "type": "ValidationFault"}, "time": _time()}
    return web.json_response(body, status=status)


def _unauthorized() -> web.Response:
    error = {
        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        "detail": "Token expired or invalid",
        "code": "3200",
        "element": None,
    }
    body = {"fault": {"error": [error], "type": "AUTHENTICATION"}, "time": _time()}
    return web.json_response(body, status=401)


def _missing(parameter: str) -> web.Response:
    return fault(
        400,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {parameter} is missing in the request",
        "2020",
    )


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """A company's Accounting API below ``prefix``."""
    realm = state.data.setdefault("realm_id", REALM_ID)
    customers: dict[str, dict[str, Any]] = state.data.setdefault("customers", {})
    invoices: dict[str, dict[str, Any]] = state.data.setdefault("invoices", {})
    base = f"{prefix}/v3/company/{{realm_id:[0-9]+}}"

    def refused(request: web.Request) -> web.Response | None:
        if not state.authorized(request):
            return _unauthorized()
        if request.match_info["realm_id"] != realm:  # the token is for another company
            return web.json_response(
                {
                    "Fault": {
                        "Error": [
                            {
                                "Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                                "Detail": "",
                                "code": "3100",
                            }
                        ],
                        "type": "SERVICE",
                    },
                    "time": _time(),
                },
                status=403,
            )
        if "application/json" not in request.headers.get("Accept", ""):
            return web.Response(
                text='<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse/>',
                content_type="application/xml",
            )
        return None

    def meta() -> dict[str, str]:
        now = _time()
        return {"CreateTime": now, "LastUpdatedTime": now}

    @routes.post(base + "/customer")
    async def create_customer(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        body = call.body if isinstance(call.body, dict) else {}
        names = [body.get(k) for k in ("GivenName", "MiddleName", "FamilyName", "Title", "Suffix")]
        display = body.get("DisplayName") or " ".join(n for n in names if n)
        if not display:
            return _missing("DisplayName")
        if any(c["DisplayName"] == display for c in customers.values()):
            return fault(
                400,
                "Duplicate Name Exists Error",
                "The name supplied already exists. : Another customer, vendor or employee is "
                "already using this name. Please use a different name.",
                "6240",
            )
        customer_id = str(next(_ids))
        customer = {
            **body,
            "Id": customer_id,
            "SyncToken": "0",
            "DisplayName": display,
            "FullyQualifiedName": display,
            "PrintOnCheckName": display,
            "Active": True,
            "Balance": 0,
            "domain": "QBO",
            "sparse": False,
            "MetaData": meta(),
        }
        customers[customer_id] = customer
        return web.json_response({"Customer": customer, "time": _time()})

    @routes.post(base + "/invoice")
    async def create_invoice(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        body = call.body if isinstance(call.body, dict) else {}
        lines = body.get("Line")
        if not lines:
            return _missing("Line")
        customer_id = (body.get("CustomerRef") or {}).get("value")
        if customer_id is None:
            return _missing("CustomerRef")
        if customer_id not in customers:
            return fault(
                400,
                "Invalid Reference Id",
                f"Invalid Reference Id : Customer assigned to this transaction has been deleted "
                f"or does not exist (Id={customer_id})",
                "2500",
            )
        for line in lines:
            if line.get("DetailType") != "SalesItemLineDetail" or "Amount" not in line:
                return _missing("Line.Amount")
        total = round(sum(float(line["Amount"]) for line in lines), 2)
        invoice_id = str(next(_ids))
        numbered = [{**line, "Id": str(n), "LineNum": n} for n, line in enumerate(lines, 1)]
        invoice = {
            **body,
            "Id": invoice_id,
            "SyncToken": "0",
            "DocNumber": str(1000 + len(invoices) + 1),
            "TxnDate": datetime.now(UTC).date().isoformat(),
            "CustomerRef": {"value": customer_id, "name": customers[customer_id]["DisplayName"]},
            "Line": [
                *numbered,
                {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
            ],
            "TotalAmt": total,
            "Balance": total,
            "domain": "QBO",
            "sparse": False,
            "MetaData": meta(),
        }
        invoices[invoice_id] = invoice
        return web.json_response({"Invoice": invoice, "time": _time()})

    @routes.get(base + "/query")
    async def query(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        text = request.query.get("query", "")
        match = _QUERY.match(text)
        if match is None:
            return fault(
                400,
                "Error parsing query",
                f'QueryParserError: Encountered unexpected input in "{text[:80]}"',
                "4000",
            )
        entity = match["entity"].capitalize()
        table = {"Customer": customers, "Invoice": invoices}.get(entity)
        if table is None:
            return fault(
                400, "Invalid query", f"QueryValidationError: Invalid entity {entity}", "4001"
            )
        rows = [
            row
            for row in table.values()
            if match["field"] is None or str(row.get(match["field"])) == match["value"]
        ][: int(match["max"] or 1000)]
        found: dict[str, Any] = {}
        if rows:
            found = {entity: rows, "startPosition": 1, "maxResults": len(rows)}
        return web.json_response({"QueryResponse": found, "time": _time()})
