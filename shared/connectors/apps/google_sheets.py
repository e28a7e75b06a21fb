"""Google Sheets API v4 (developers.google.com/workspace/sheets/api/reference/rest): append a
row, read a range, create a spreadsheet. Ranges are A1 notation (``Sheet1!A1:C``)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of

_SPREADSHEET_ID = r"^[A-Za-z0-9_-]{10,100}$"
Cell = str | int | float | bool | None


def _values_path(spreadsheet_id: str, a1_range: str, suffix: str = "") -> str:
    # The range is a path segment: sheet names may hold spaces, quotes or slashes.
    return f"/spreadsheets/{spreadsheet_id}/values/{quote(a1_range, safe='!:')}{suffix}"


class AppendRowInput(BaseModel):
    """One row appended after the table found in ``range``."""

    model_config = ConfigDict(extra="forbid")

    spreadsheet_id: str = Field(pattern=_SPREADSHEET_ID, description="The spreadsheet's id")
    range: str = Field(
        min_length=1, max_length=500, description="A1 range or sheet name, e.g. Sheet1!A:D"
    )
    values: list[Cell] = Field(min_length=1, max_length=1000, description="The row's cells")
    value_input_option: Literal["RAW", "USER_ENTERED"] = Field(
        default="USER_ENTERED", description="USER_ENTERED parses values as if typed in the UI"
    )
    insert_data_option: Literal["INSERT_ROWS", "OVERWRITE"] = Field(
        default="INSERT_ROWS", description="Insert a new row, or write over the next empty one"
    )


class ReadRangeInput(BaseModel):
    """A range to read."""

    model_config = ConfigDict(extra="forbid")

    spreadsheet_id: str = Field(pattern=_SPREADSHEET_ID, description="The spreadsheet's id")
    range: str = Field(min_length=1, max_length=500, description="A1 range, e.g. Sheet1!A1:D10")
    major_dimension: Literal["ROWS", "COLUMNS"] = Field(
        default="ROWS", description="Rows or columns first"
    )
    value_render_option: Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"] = Field(
        default="FORMATTED_VALUE", description="How cell values are rendered"
    )


class CreateSpreadsheetInput(BaseModel):
    """A new spreadsheet: its title and, optionally, the titles of its sheets."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=255, description="The spreadsheet's title")
    sheet_titles: list[str] = Field(
        default_factory=list, max_length=200, description="Sheets to create (default: one)"
    )


async def _append_row(ctx: ActionContext, data: AppendRowInput) -> Any:
    params: dict[str, str] = {
        "valueInputOption": data.value_input_option,
        "insertDataOption": data.insert_data_option,
    }
    payload = {"range": data.range, "majorDimension": "ROWS", "values": [data.values]}
    path = _values_path(data.spreadsheet_id, data.range, ":append")
    body = result_of(await ctx.call_api("POST", path, params=params, json=payload))
    return {"table_range": body.get("tableRange"), "updates": body.get("updates")}


async def _read_range(ctx: ActionContext, data: ReadRangeInput) -> Any:
    params: dict[str, str] = {
        "majorDimension": data.major_dimension,
        "valueRenderOption": data.value_render_option,
    }
    path = _values_path(data.spreadsheet_id, data.range)
    body = result_of(await ctx.call_api("GET", path, params=params))
    # Google leaves "values" out when the range is empty.
    return {
        "range": body.get("range"),
        "major_dimension": body.get("majorDimension"),
        "values": body.get("values", []),
    }


async def _create_spreadsheet(ctx: ActionContext, data: CreateSpreadsheetInput) -> Any:
    payload: dict[str, Any] = {"properties": {"title": data.title}}
    if data.sheet_titles:
        payload["sheets"] = [{"properties": {"title": t}} for t in data.sheet_titles]
    body = result_of(await ctx.call_api("POST", "/spreadsheets", json=payload))
    return {
        "spreadsheet_id": body.get("spreadsheetId"),
        "spreadsheet_url": body.get("spreadsheetUrl"),
        "title": (body.get("properties") or {}).get("title"),
        "sheets": [
            {"sheet_id": s["properties"].get("sheetId"), "title": s["properties"].get("title")}
            for s in body.get("sheets", [])
            if isinstance(s, dict) and isinstance(s.get("properties"), dict)
        ],
    }


ACTIONS = (
    Action(
        "google_sheets.append_row",
        "google_sheets",
        AppendRowInput,
        _append_row,
        "Append a row to a sheet",
    ),
    Action(
        "google_sheets.read_range",
        "google_sheets",
        ReadRangeInput,
        _read_range,
        "Read the values of a range",
    ),
    Action(
        "google_sheets.create_spreadsheet",
        "google_sheets",
        CreateSpreadsheetInput,
        _create_spreadsheet,
        "Create a spreadsheet",
    ),
)
