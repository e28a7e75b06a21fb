"""Zendesk Support's API (``https://{subdomain}.zendesk.com/api/v2``) with API token auth
(Basic ``{email}/token:{api_token}``): tickets (create, read, comment), users (search, me) and
the ticket count. Errors in Zendesk's shapes: 401 ``{"error": "Couldn't authenticate you"}``,
404 ``{"error": "RecordNotFound", …}``, 422 ``{"error": "RecordInvalid", "description",
"details"}``, 429 ``{"error": "APIRateLimitExceeded", …}`` with Retry-After.

Like the real one, ``/users/me.json`` answers 200 with an anonymous user to a caller it does
not know. ``state.data``: ``tickets``, ``users`` (id → object), ``rate_limited_for`` (set it
to a number of seconds: the next call gets a 429 with that Retry-After)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

PRIORITIES = frozenset({"urgent", "high", "normal", "low"})
TYPES = frozenset({"problem", "incident", "question", "task"})
STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
AGENT_ID = 7001
_ids = itertools.count(35436)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unauthorized() -> web.Response:
    return web.json_response({"error": "Couldn't authenticate you"}, status=401)


def _not_found() -> web.Response:
    return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)


def invalid(field: str, description: str, error: str = "BlankValue") -> web.Response:
    """Zendesk's record validation error."""
    body = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {field: [{"description": description, "error": error}]},
    }
    return web.json_response(body, status=422)


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Zendesk's ticket and user endpoints below ``prefix``."""
    tickets: dict[int, dict[str, Any]] = state.data.setdefault("tickets", {})
    users: dict[int, dict[str, Any]] = state.data.setdefault(
        "users",
        {AGENT_ID: {"id": AGENT_ID, "name": "Agent", "email": "agent@acme.com", "role": "agent"}},
    )

    def refused(request: web.Request) -> web.Response | None:
        seconds = state.data.pop("rate_limited_for", None)
        if seconds is not None:
            return web.json_response(
                {
                    "error": "APIRateLimitExceeded",
                    "description": "Number of allowed API requests per minute exceeded",
                },
                status=429,
                headers={"Retry-After": str(seconds)},
            )
        return None if state.authorized(request) else _unauthorized()

    def requester_id(requester: Any) -> int | str:
        if requester is None:
            return AGENT_ID
        if not isinstance(requester, dict) or not requester.get("email"):
            return "requester: Email is invalid"
        for user in users.values():
            if user["email"] == requester["email"]:
                return int(user["id"])
        user_id = next(_ids)
        users[user_id] = {
            "id": user_id,
            "name": requester.get("name") or requester["email"].split("@")[0],
            "email": requester["email"],
            "role": "end-user",
        }
        return user_id

    @routes.post(f"{prefix}/api/v2/tickets.json")
    async def create_ticket(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        ticket = call.body.get("ticket") if isinstance(call.body, dict) else None
        if not isinstance(ticket, dict):
            return web.json_response(
                {"error": "InvalidEndpoint", "description": "ticket is required"}, status=400
            )
        body = (ticket.get("comment") or {}).get("body")
        if not body:
            return invalid("base", "Description: cannot be blank")
        if ticket.get("priority") not in (None, *PRIORITIES):
            return invalid("priority", "Priority: is not valid", "InvalidValue")
        if ticket.get("type") not in (None, *TYPES):
            return invalid("type", "Type: is not valid", "InvalidValue")
        requester = requester_id(ticket.get("requester"))
        if isinstance(requester, str):
            return invalid("requester", requester, "InvalidValue")
        ticket_id = next(_ids)
        now = _now()
        created = {
            "id": ticket_id,
            "url": f"{request.url.origin()}{prefix}/api/v2/tickets/{ticket_id}.json",
            "subject": ticket.get("subject"),
            "raw_subject": ticket.get("subject"),
            "description": body,
            "priority": ticket.get("priority"),
            "type": ticket.get("type"),
            "status": "new",
            "requester_id": requester,
            "submitter_id": AGENT_ID,
            "tags": ticket.get("tags", []),
            "created_at": now,
            "updated_at": now,
            "comments": [{"body": body, "public": True, "author_id": AGENT_ID}],
        }
        tickets[ticket_id] = created
        shown = {k: v for k, v in created.items() if k != "comments"}
        audit = {"id": next(_ids), "ticket_id": ticket_id, "created_at": now, "events": []}
        return web.json_response({"ticket": shown, "audit": audit}, status=201)

    @routes.get(f"{prefix}/api/v2/tickets/{{ticket_id:[0-9]+}}.json")
    async def get_ticket(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        ticket = tickets.get(int(request.match_info["ticket_id"]))
        if ticket is None:
            return _not_found()
        return web.json_response({"ticket": {k: v for k, v in ticket.items() if k != "comments"}})

    @routes.put(f"{prefix}/api/v2/tickets/{{ticket_id:[0-9]+}}.json")
    async def update_ticket(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        ticket = tickets.get(int(request.match_info["ticket_id"]))
        if ticket is None:
            return _not_found()
        change = call.body.get("ticket") if isinstance(call.body, dict) else None
        if not isinstance(change, dict):
            return web.json_response(
                {"error": "InvalidEndpoint", "description": "ticket is required"}, status=400
            )
        comment = change.get("comment")
        if comment is not None and not comment.get("body"):
            return invalid("base", "Comment: cannot be blank")
        if change.get("status") not in (None, *STATUSES):
            return invalid("status", "Status: is not valid", "InvalidValue")
        if comment is not None:
            ticket["comments"].append(
                {
                    "body": comment["body"],
                    "public": comment.get("public", True),
                    "author_id": AGENT_ID,
                }
            )
            if ticket["status"] == "new":
                ticket["status"] = "open"
        if change.get("status"):
            ticket["status"] = change["status"]
        ticket["updated_at"] = _now()
        shown = {k: v for k, v in ticket.items() if k != "comments"}
        audit = {"id": next(_ids), "ticket_id": ticket["id"], "created_at": ticket["updated_at"]}
        return web.json_response({"ticket": shown, "audit": audit})

    @routes.get(f"{prefix}/api/v2/users/search.json")
    async def search_users(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        query = request.query.get("query", "").lower()
        if not query:
            return web.json_response(
                {"error": "InvalidParameter", "description": "query or external_id is required"},
                status=400,
            )
        found = [
            u for u in users.values() if query in u["email"].lower() or query in u["name"].lower()
        ]
        return web.json_response(
            {"users": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    @routes.get(f"{prefix}/api/v2/users/me.json")
    async def me(request: web.Request) -> web.Response:
        await state.record(request)
        if not state.authorized(request):  # the trap: not a 401
            return web.json_response(
                {
                    "user": {
                        "id": None,
                        "name": "Anonymous user",
                        "email": "invalid@example.com",
                        "role": "end-user",
                    }
                }
            )
        return web.json_response({"user": users[AGENT_ID]})

    @routes.get(f"{prefix}/api/v2/tickets/count.json")
    async def count(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        return web.json_response({"count": {"value": len(tickets), "refreshed_at": _now()}})
