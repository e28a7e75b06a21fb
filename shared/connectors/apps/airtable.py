"""Airtable's Web API (airtable.com/developers/web/api/introduction): create, list and update
records of a base's table (by table id or name)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, ActionError, result_of
from shared.infra.outbound import OutboundResponse

_BASE_ID = r"^app[A-Za-z0-9]{14}$"
_RECORD_ID = r"^rec[A-Za-z0-9]{14}$"
# "wait 30 seconds before subsequent requests will succeed" (rate limits; no Retry-After sent).
RATE_LIMIT_WAIT = 30.0


def airtable_result(response: OutboundResponse) -> Any:
    """The parsed body, or the ActionError the status means (a 429 waits Airtable's 30 s)."""
    try:
        return result_of(response)
    except ActionError as exc:
        if exc.status == 429 and exc.retry_after is None:
            exc.retry_after = RATE_LIMIT_WAIT
        raise


def _table_path(base_id: str, table: str) -> str:
    # Table names are free text: one encoded path segment.
    return f"/{base_id}/{quote(table, safe='')}"


class CreateRecordsInput(BaseModel):
    """Up to 10 records (their fields by field name) to create in one call."""

    model_config = ConfigDict(extra="forbid")

    base_id: str = Field(pattern=_BASE_ID, description="The base's id (app…)")
    table: str = Field(min_length=1, max_length=255, description="Table id (tbl…) or name")
    records: list[dict[str, Any]] = Field(
        min_length=1, max_length=10, description="Each record's fields, by field name"
    )
    typecast: bool = Field(
        default=False, description="Convert strings to the fields' types (new select options)"
    )


class ListRecordsInput(BaseModel):
    """One page of a table's records."""

    model_config = ConfigDict(extra="forbid")

    base_id: str = Field(pattern=_BASE_ID, description="The base's id (app…)")
    table: str = Field(min_length=1, max_length=255, description="Table id (tbl…) or name")
    view: str | None = Field(default=None, max_length=255, description="View id or name")
    filter_by_formula: str | None = Field(
        default=None, max_length=5000, description="Airtable formula records must satisfy"
    )
    max_records: int | None = Field(default=None, ge=1, description="At most this many in all")
    page_size: int = Field(default=100, ge=1, le=100, description="Records per page")
    offset: str | None = Field(
        default=None, max_length=200, description="offset of the previous page"
    )


class UpdateRecordInput(BaseModel):
    """Fields to change on one record (others are left as they are)."""

    model_config = ConfigDict(extra="forbid")

    base_id: str = Field(pattern=_BASE_ID, description="The base's id (app…)")
    table: str = Field(min_length=1, max_length=255, description="Table id (tbl…) or name")
    record_id: str = Field(pattern=_RECORD_ID, description="The record's id (rec…)")
    fields: dict[str, Any] = Field(min_length=1, description="Fields to set, by field name")
    typecast: bool = Field(default=False, description="Convert strings to the fields' types")


async def _create_records(ctx: ActionContext, data: CreateRecordsInput) -> Any:
    payload = {"records": [{"fields": f} for f in data.records], "typecast": data.typecast}
    path = _table_path(data.base_id, data.table)
    body = airtable_result(await ctx.call_api("POST", path, json=payload))
    return {"records": body.get("records", [])}


async def _list_records(ctx: ActionContext, data: ListRecordsInput) -> Any:
    params = {"pageSize": str(data.page_size)}
    optional = {
        "view": data.view,
        "filterByFormula": data.filter_by_formula,
        "maxRecords": None if data.max_records is None else str(data.max_records),
        "offset": data.offset,
    }
    params |= {k: v for k, v in optional.items() if v is not None}
    path = _table_path(data.base_id, data.table)
    body = airtable_result(await ctx.call_api("GET", path, params=params))
    # "offset" is present while more pages remain.
    return {"records": body.get("records", []), "offset": body.get("offset")}


async def _update_record(ctx: ActionContext, data: UpdateRecordInput) -> Any:
    payload = {"fields": data.fields, "typecast": data.typecast}
    path = f"{_table_path(data.base_id, data.table)}/{data.record_id}"
    return airtable_result(await ctx.call_api("PATCH", path, json=payload))


ACTIONS = (
    Action(
        "airtable.create_records",
        "airtable",
        CreateRecordsInput,
        _create_records,
        "Create up to 10 records in an Airtable table",
    ),
    Action(
        "airtable.list_records",
        "airtable",
        ListRecordsInput,
        _list_records,
        "List records of an Airtable table",
    ),
    Action(
        "airtable.update_record",
        "airtable",
        UpdateRecordInput,
        _update_record,
        "Update fields of an Airtable record",
    ),
)
