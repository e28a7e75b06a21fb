"""Notion's API (developers.notion.com/reference/intro): create pages, query databases, append
blocks. Every call names the API version it speaks in a ``Notion-Version`` header."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of

# The version whose databases/{id}/query and page parents these actions follow (2025-09-03
# moved queries to data sources; older versions stay supported).
NOTION_VERSION = "2022-06-28"
# Page, database and block ids: a UUID with or without dashes.
_NOTION_ID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_HEADERS = {"Notion-Version": NOTION_VERSION}


def _paragraph(text: str) -> dict[str, Any]:
    return {
        "object": "block",
        "type": "paragraph",
        "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]},
    }


def _title(text: str) -> dict[str, Any]:
    return {"title": [{"type": "text", "text": {"content": text}}]}


class CreatePageInput(BaseModel):
    """A page in a database (a row, its properties) or below another page."""

    model_config = ConfigDict(extra="forbid")

    parent_id: str = Field(pattern=_NOTION_ID, description="The parent database's or page's id")
    parent_type: Literal["database", "page"] = Field(
        default="database", description="Whether the parent is a database or a page"
    )
    title: str | None = Field(
        default=None, min_length=1, max_length=2000, description="The page's title"
    )
    title_property: str = Field(
        default="Name",
        min_length=1,
        max_length=200,
        description="The database's title property (pages below a page always use 'title')",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Property values in Notion's shape, by property name"
    )
    paragraphs: list[str] = Field(
        default_factory=list, max_length=100, description="Text paragraphs for the page's body"
    )

    @model_validator(mode="after")
    def _something_to_create(self) -> CreatePageInput:
        if self.title is None and not self.properties:
            raise ValueError("give a title or properties")
        if any(len(p) > 2000 for p in self.paragraphs):
            raise ValueError("a paragraph holds at most 2000 characters")
        return self


class QueryDatabaseInput(BaseModel):
    """A database query: Notion's filter and sorts objects, one page of results."""

    model_config = ConfigDict(extra="forbid")

    database_id: str = Field(pattern=_NOTION_ID, description="The database's id")
    filter: dict[str, Any] | None = Field(default=None, description="Notion filter object")
    sorts: list[dict[str, Any]] | None = Field(default=None, description="Notion sort objects")
    page_size: int = Field(default=100, ge=1, le=100, description="Results per page")
    start_cursor: str | None = Field(
        default=None, max_length=200, description="next_cursor of the previous page"
    )


class AppendBlocksInput(BaseModel):
    """Blocks appended to a page or block: plain paragraphs, or blocks in Notion's shape."""

    model_config = ConfigDict(extra="forbid")

    block_id: str = Field(pattern=_NOTION_ID, description="The page's or block's id")
    paragraphs: list[str] = Field(
        default_factory=list, max_length=100, description="Text paragraphs to append"
    )
    children: list[dict[str, Any]] = Field(
        default_factory=list, max_length=100, description="Block objects to append"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> AppendBlocksInput:
        if bool(self.paragraphs) == bool(self.children):
            raise ValueError("give either paragraphs or children")
        if any(len(p) > 2000 for p in self.paragraphs):
            raise ValueError("a paragraph holds at most 2000 characters")
        return self


async def _create_page(ctx: ActionContext, data: CreatePageInput) -> Any:
    properties = dict(data.properties)
    if data.title is not None:
        key = data.title_property if data.parent_type == "database" else "title"
        properties[key] = _title(data.title)
    payload: dict[str, Any] = {
        "parent": {f"{data.parent_type}_id": data.parent_id},
        "properties": properties,
    }
    if data.paragraphs:
        payload["children"] = [_paragraph(p) for p in data.paragraphs]
    body = result_of(await ctx.call_api("POST", "/pages", json=payload, headers=_HEADERS))
    return {k: body.get(k) for k in ("id", "url", "created_time", "parent", "properties")}


async def _query_database(ctx: ActionContext, data: QueryDatabaseInput) -> Any:
    payload = data.model_dump(exclude={"database_id"}, exclude_none=True)
    path = f"/databases/{data.database_id}/query"
    body = result_of(await ctx.call_api("POST", path, json=payload, headers=_HEADERS))
    return {
        "results": body.get("results", []),
        "next_cursor": body.get("next_cursor"),
        "has_more": bool(body.get("has_more")),
    }


async def _append_blocks(ctx: ActionContext, data: AppendBlocksInput) -> Any:
    children = data.children or [_paragraph(p) for p in data.paragraphs]
    path = f"/blocks/{data.block_id}/children"
    body = result_of(
        await ctx.call_api("PATCH", path, json={"children": children}, headers=_HEADERS)
    )
    return {"results": body.get("results", [])}


ACTIONS = (
    Action(
        "notion.create_page",
        "notion",
        CreatePageInput,
        _create_page,
        "Create a page in a Notion database or below a page",
    ),
    Action(
        "notion.query_database",
        "notion",
        QueryDatabaseInput,
        _query_database,
        "Query a Notion database",
    ),
    Action(
        "notion.append_blocks",
        "notion",
        AppendBlocksInput,
        _append_blocks,
        "Append paragraphs or blocks to a Notion page",
    ),
)
