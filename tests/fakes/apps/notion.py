"""A fake of Notion's API (developers.notion.com/reference/intro) below
``https://api.notion.com``: ``POST /v1/pages``, ``POST /v1/databases/{id}/query``,
``PATCH /v1/blocks/{id}/children``.

Every call must carry ``Notion-Version``. Errors have Notion's shape ``{"object": "error",
"status", "code", "message"}``: 401 ``unauthorized``, 400 ``missing_version``, 400
``validation_error`` (a property the database does not have, a title that is not rich text,
more than 100 children, a block without its type's object), 404 ``object_not_found``, 429
``rate_limited`` with ``Retry-After``. Filters and sorts are accepted but not evaluated.

``state.data``: ``databases`` (by id: ``title`` and ``properties``, name → type), ``pages``
(by id), ``blocks`` (children by parent id), ``rate_limited``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

DATABASE_ID = "d9824bdc-8445-4327-be8b-5b47500af6ce"
PAGE_ID = "59833787-2cf9-4fdf-8782-e53db20768a5"
_MAX_CHILDREN = 100


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "databases",
        {DATABASE_ID: {"title": "Leads", "properties": {"Name": "title", "Status": "select"}}},
    )
    state.data.setdefault("pages", {PAGE_ID: _page({"workspace": True}, {}, page_id=PAGE_ID)})
    state.data.setdefault("blocks", {})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page(parent: dict[str, Any], properties: dict[str, Any], *, page_id: str) -> dict[str, Any]:
    ((kind, parent_id),) = parent.items()
    return {
        "object": "page",
        "id": page_id,
        "created_time": _now(),
        "last_edited_time": _now(),
        "parent": {"type": kind, kind: parent_id},
        "archived": False,
        "properties": properties,
        "url": f"https://www.notion.so/{page_id.replace('-', '')}",
    }


def _normal(notion_id: str) -> str | None:
    try:
        return str(uuid.UUID(notion_id))
    except ValueError:
        return None


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return web.json_response(body, status=status, headers=headers)


def _invalid(message: str) -> web.Response:
    return _error(400, "validation_error", message)


def _not_found(kind: str, object_id: str) -> web.Response:
    return _error(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
        "databases are shared with your integration.",
    )


def _refusal(request: web.Request, state: AppState) -> web.Response | None:
    if "rate_limited" in state.data:
        wait = str(state.data.pop("rate_limited"))
        return _error(429, "rate_limited", "You have been rate limited.", **{"Retry-After": wait})
    if not state.authorized(request):
        return _error(401, "unauthorized", "API token is invalid.")
    if "Notion-Version" not in request.headers:
        return _error(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be "
            "defined, instead was `undefined`.",
        )
    return None


def _rich_text_ok(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(t, dict) and isinstance((t.get("text") or {}).get("content"), str) for t in value
    )


def _children_problem(children: Any) -> str | None:
    if not isinstance(children, list):
        return "body failed validation: body.children should be an array."
    if len(children) > _MAX_CHILDREN:
        return (
            "body failed validation: body.children.length should be ≤ `100`, "
            f"instead was `{len(children)}`."
        )
    for index, block in enumerate(children):
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(kind, str) or not isinstance(block.get(kind), dict):
            return f"body failed validation: body.children[{index}].{kind} should be defined."
        if "rich_text" in block[kind] and not _rich_text_ok(block[kind]["rich_text"]):
            return f"body failed validation: body.children[{index}].{kind}.rich_text is invalid."
    return None


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Pages, database queries and block children."""
    _seed(state)
    databases: dict[str, dict[str, Any]] = state.data["databases"]
    pages: dict[str, dict[str, Any]] = state.data["pages"]
    blocks: dict[str, list[dict[str, Any]]] = state.data["blocks"]

    def _append(parent_id: str, children: list[dict[str, Any]]) -> list[dict[str, Any]]:
        made = [
            {
                "object": "block",
                "id": str(uuid.uuid4()),
                "parent": {"type": "page_id", "page_id": parent_id},
                "created_time": _now(),
                "has_children": False,
                "archived": False,
                **child,
            }
            for child in children
        ]
        blocks.setdefault(parent_id, []).extend(made)
        return made

    @routes.post(f"{prefix}/v1/pages")
    async def create_page(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        body = call.body if isinstance(call.body, dict) else {}
        parent = body.get("parent")
        if not isinstance(parent, dict) or len(parent.keys() & {"database_id", "page_id"}) != 1:
            return _invalid("body failed validation: body.parent should be defined.")
        kind = "database_id" if "database_id" in parent else "page_id"
        parent_id = _normal(str(parent[kind]))
        if parent_id is None or parent_id not in (databases if kind == "database_id" else pages):
            return _not_found("database" if kind == "database_id" else "page", str(parent[kind]))
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            return _invalid("body failed validation: body.properties should be an object.")
        schema = databases[parent_id]["properties"] if kind == "database_id" else {"title": "title"}
        for name, value in properties.items():
            if name not in schema:
                return _invalid(f"{name} is not a property that exists.")
            if schema[name] == "title" and not (
                isinstance(value, dict) and _rich_text_ok(value.get("title"))
            ):
                return _invalid(f"{name} is expected to be title.")
        children = body.get("children", [])
        if (problem := _children_problem(children)) is not None:
            return _invalid(problem)
        page_id = str(uuid.uuid4())
        page = _page({kind: parent_id}, properties, page_id=page_id)
        pages[page_id] = page
        _append(page_id, children)
        return web.json_response(page)

    async def _arrive(
        request: web.Request, *, kind: str, known: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | web.Response:
        """Record the call; then the id of the ``kind`` it names (``{kind}_id`` in the path)
        and its JSON body, or Notion's refusal or not-found."""
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        named = request.match_info[f"{kind}_id"]
        found = _normal(named)
        if found is None or found not in known:
            return _not_found(kind, named)
        return found, call.body if isinstance(call.body, dict) else {}

    @routes.post(f"{prefix}/v1/databases/{{database_id}}/query")
    async def query(request: web.Request) -> web.Response:
        arrived = await _arrive(request, kind="database", known=databases)
        if isinstance(arrived, web.Response):
            return arrived
        database_id, body = arrived
        page_size = body.get("page_size", 100)
        if not isinstance(page_size, int) or not 1 <= page_size <= 100:
            return _invalid(
                f"body failed validation: body.page_size should be ≤ `100`, instead was `{page_size}`."
            )
        if "filter" in body and not isinstance(body["filter"], dict):
            return _invalid("body failed validation: body.filter should be an object.")
        rows = [p for p in pages.values() if p["parent"].get("database_id") == database_id]
        start = int(body.get("start_cursor") or 0)
        page = rows[start : start + page_size]
        more = start + page_size < len(rows)
        return web.json_response(
            {
                "object": "list",
                "results": page,
                "next_cursor": str(start + page_size) if more else None,
                "has_more": more,
                "type": "page_or_database",
                "page_or_database": {},
            }
        )

    @routes.patch(f"{prefix}/v1/blocks/{{block_id}}/children")
    async def append_children(request: web.Request) -> web.Response:
        arrived = await _arrive(request, kind="block", known=pages)
        if isinstance(arrived, web.Response):
            return arrived
        block_id, body = arrived
        if "children" not in body:
            return _invalid("body failed validation: body.children should be defined.")
        if (problem := _children_problem(body["children"])) is not None:
            return _invalid(problem)
        made = _append(block_id, body["children"])
        return web.json_response(
            {
                "object": "list",
                "results": made,
                "next_cursor": None,
                "has_more": False,
                "type": "block",
                "block": {},
            }
        )
