"""A fake of the Google Sheets API v4 (developers.google.com/workspace/sheets/api/reference/rest)
below ``https://sheets.googleapis.com``: ``POST /v4/spreadsheets``, and ``GET`` / ``POST …:append``
on ``/v4/spreadsheets/{id}/values/{range}``.

Ranges are A1 notation: ``Sheet1``, ``Sheet1!A1:C3``, ``'My sheet'!B:D`` (a range without a
sheet names the first sheet). Errors have Google's shape ``{"error": {"code", "message",
"status"}}``: 401 ``UNAUTHENTICATED``, 400 ``INVALID_ARGUMENT`` (missing or wrong
``valueInputOption``, values not a list of rows, a range naming no sheet, a duplicate sheet
title), 404 ``NOT_FOUND`` for an unknown spreadsheet, 429 ``RESOURCE_EXHAUSTED``.

``state.data``: ``spreadsheets`` (by id: ``title`` and ``sheets``, each sheet a list of rows),
``rate_limited``: a Retry-After value the next call answers 429 with."""

from __future__ import annotations

import itertools
import re
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
_A1 = re.compile(r"^([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$")
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)
_new_ids = itertools.count(1)


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "spreadsheets",
        {
            SPREADSHEET_ID: {
                "title": "Leads",
                "sheets": {"Sheet1": [["Name", "Email"], ["Ada", "ada@example.com"]]},
            }
        },
    )


def _error(status: int, google_status: str, message: str, **headers: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": google_status}}
    return web.json_response(body, status=status, headers=headers)


def _refusal(request: web.Request, state: AppState) -> web.Response | None:
    if "rate_limited" in state.data:
        wait = str(state.data.pop("rate_limited"))
        return _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", **{"Retry-After": wait})
    if not state.authorized(request):
        return _error(401, "UNAUTHENTICATED", _UNAUTHENTICATED)
    return None


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _parse(a1: str, sheets: dict[str, list[list[Any]]]) -> tuple[str, int, int, int, int] | None:
    """(sheet, first column, first row, last column, last row) of an A1 range (1-based,
    inclusive; 0 for an open end), or None when it names no sheet of the spreadsheet."""
    sheet, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
    sheet = sheet.strip("'")
    if sheet not in sheets:
        if "!" in a1 or not sheets:
            return None
        sheet, cells = next(iter(sheets)), a1  # "A1:B2" alone: the first sheet
        if not _A1.match(cells):
            return None
    match = _A1.match(cells)
    if match is None:
        return None
    c1, r1, c2, r2 = match.groups()
    first_col, first_row = _column(c1) or 1, int(r1 or 1)
    if c2 is None and r2 is None:
        last_col = first_col if c1 else 0
        last_row = first_row if r1 else 0
    else:
        last_col, last_row = _column(c2 or ""), int(r2 or 0)
    return sheet, first_col, first_row, last_col, last_row


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """The spreadsheets.create, values.get and values.append methods."""
    _seed(state)
    spreadsheets: dict[str, dict[str, Any]] = state.data["spreadsheets"]

    @routes.post(f"{prefix}/v4/spreadsheets")
    async def create(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        body = call.body if isinstance(call.body, dict) else {}
        titles = [
            (s.get("properties") or {}).get("title", f"Sheet{i + 1}")
            for i, s in enumerate(body.get("sheets") or [{}])
        ]
        if len(set(titles)) != len(titles):
            return _error(400, "INVALID_ARGUMENT", "Invalid requests: duplicate sheet titles.")
        spreadsheet_id = f"1FakeSheet{next(_new_ids):04d}" + "x" * 30
        title = (body.get("properties") or {}).get("title", "Untitled spreadsheet")
        spreadsheets[spreadsheet_id] = {"title": title, "sheets": {t: [] for t in titles}}
        return web.json_response(
            {
                "spreadsheetId": spreadsheet_id,
                "properties": {"title": title, "locale": "en_US", "timeZone": "Etc/GMT"},
                "sheets": [
                    {
                        "properties": {
                            "sheetId": index,
                            "title": t,
                            "index": index,
                            "sheetType": "GRID",
                            "gridProperties": {"rowCount": 1000, "columnCount": 26},
                        }
                    }
                    for index, t in enumerate(titles)
                ],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
            }
        )

    @routes.route("*", f"{prefix}/v4/spreadsheets/{{spreadsheet_id}}/values/{{target}}")
    async def values(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        spreadsheet = spreadsheets.get(request.match_info["spreadsheet_id"])
        if spreadsheet is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        target = request.match_info["target"]
        if request.method == "POST" and target.endswith(":append"):
            return _append(spreadsheet, target.removesuffix(":append"), call.query, call.body)
        if request.method == "GET":
            return _get(spreadsheet, target, call.query)
        return _error(404, "NOT_FOUND", "Method not found.")

    def _get(spreadsheet: dict[str, Any], a1: str, query: dict[str, str]) -> web.Response:
        where = _parse(a1, spreadsheet["sheets"])
        if where is None:
            return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
        sheet, c1, r1, c2, r2 = where
        rows = spreadsheet["sheets"][sheet]
        picked = [row[c1 - 1 : c2 or None] for row in rows[r1 - 1 : r2 or None]]
        while picked and not picked[-1]:
            picked.pop()
        dimension = query.get("majorDimension", "ROWS")
        if dimension not in ("ROWS", "COLUMNS"):
            return _error(
                400, "INVALID_ARGUMENT", f"Invalid value at 'major_dimension' ({dimension})"
            )
        if dimension == "COLUMNS":
            width = max((len(r) for r in picked), default=0)
            picked = [[r[i] for r in picked if i < len(r)] for i in range(width)]
        last_col = c2 or max((len(r) for r in rows), default=1)
        last_row = r2 or max(len(rows), 1)
        answer: dict[str, Any] = {
            "range": f"{sheet}!{_letters(c1)}{r1}:{_letters(last_col)}{last_row}",
            "majorDimension": dimension,
        }
        if picked:  # Google leaves "values" out for an empty range
            answer["values"] = picked
        return web.json_response(answer)

    def _append(
        spreadsheet: dict[str, Any], a1: str, query: dict[str, str], body: Any
    ) -> web.Response:
        option = query.get("valueInputOption")
        if option is None:
            return _error(
                400, "INVALID_ARGUMENT", "'valueInputOption' is required but not specified"
            )
        if option not in ("RAW", "USER_ENTERED"):
            return _error(
                400, "INVALID_ARGUMENT", f"Invalid value at 'value_input_option' ({option})"
            )
        if query.get("insertDataOption", "OVERWRITE") not in ("OVERWRITE", "INSERT_ROWS"):
            return _error(400, "INVALID_ARGUMENT", "Invalid value at 'insert_data_option'")
        where = _parse(a1, spreadsheet["sheets"])
        if where is None:
            return _error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
        rows_in = body.get("values") if isinstance(body, dict) else None
        if not isinstance(rows_in, list) or not all(isinstance(r, list) for r in rows_in):
            return _error(400, "INVALID_ARGUMENT", "Invalid values: expected a list of rows")
        sheet, c1, _, _, _ = where
        rows = spreadsheet["sheets"][sheet]
        table_end = len(rows)
        for row in rows_in:
            rows.append([None] * (c1 - 1) + list(row))
        width = max((len(r) for r in rows_in), default=0)
        first, last_row = table_end + 1, table_end + len(rows_in)
        columns = f"{_letters(c1)}{{}}:{_letters(c1 + width - 1)}{{}}"
        return web.json_response(
            {
                "spreadsheetId": next(k for k, v in spreadsheets.items() if v is spreadsheet),
                "tableRange": f"{sheet}!{columns.format(1, table_end)}" if table_end else None,
                "updates": {
                    "updatedRange": f"{sheet}!{columns.format(first, last_row)}",
                    "updatedRows": len(rows_in),
                    "updatedColumns": width,
                    "updatedCells": sum(len(r) for r in rows_in),
                },
            }
        )
