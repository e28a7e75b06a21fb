"""A fake of Slack's Web API (docs.slack.dev/reference/methods) below ``https://slack.com``:
``/api/chat.postMessage``, ``/api/conversations.list``, ``/api/users.lookupByEmail``.

As Slack does, every answer is JSON with ``ok``; failures are HTTP 200 ``{"ok": false,
"error": "<code>"}`` (``not_authed`` without a token, ``invalid_auth`` with a wrong one,
``channel_not_found``, ``no_text``, ``users_not_found``…), except rate limiting: HTTP 429
``{"ok": false, "error": "ratelimited"}`` with ``Retry-After``. The token is read from the
``Authorization: Bearer`` header or a ``token`` argument.

``state.data``: ``channels`` (by id), ``users`` (by id), ``messages`` (posted, in order), and
``rate_limited``: a Retry-After value the next call answers 429 with (then cleared)."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState, Recorded

BOT_USER_ID = "U0BOTUSER1"
BOT_ID = "B0BOTID001"
_ts = itertools.count(1)


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "channels",
        {
            "C0GENERAL1": {"id": "C0GENERAL1", "name": "general", "is_private": False},
            "C0RANDOM01": {"id": "C0RANDOM01", "name": "random", "is_private": False},
            "C0OLDSTUFF": {"id": "C0OLDSTUFF", "name": "old-stuff", "is_private": False},
            "G0SECRET01": {"id": "G0SECRET01", "name": "secret", "is_private": True},
        },
    )
    for channel in state.data["channels"].values():
        channel.setdefault("is_channel", True)
        channel.setdefault("is_archived", channel["id"] == "C0OLDSTUFF")
        channel.setdefault("num_members", 3)
    state.data.setdefault(
        "users",
        {
            "U0ADA00001": {
                "id": "U0ADA00001",
                "team_id": "T0TEAM0001",
                "name": "ada",
                "real_name": "Ada Lovelace",
                "profile": {"email": "ada@example.com", "display_name": "ada"},
            }
        },
    )
    state.data.setdefault("messages", [])


def _answer(body: dict[str, Any], *, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _fail(error: str) -> web.Response:
    return _answer({"ok": False, "error": error})


def _arguments(call: Recorded) -> dict[str, Any]:
    """A Web API method's arguments: the query string, and a JSON or form body."""
    return {**call.query, **(call.body if isinstance(call.body, dict) else {})}


def _refusal(
    request: web.Request, state: AppState, arguments: dict[str, Any]
) -> web.Response | None:
    """A rate limit or a missing or wrong token, as Slack answers them."""
    if "rate_limited" in state.data:
        wait = state.data.pop("rate_limited")
        return _answer(
            {"ok": False, "error": "ratelimited"}, status=429, **{"Retry-After": str(wait)}
        )
    token = state.credential(request) if "Authorization" in request.headers else None
    token = token or arguments.get("token")
    if not token:
        return _fail("not_authed")
    if token not in state.valid_credentials:
        return _fail("invalid_auth")
    return None


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Slack's Web API methods used by the slack actions."""
    _seed(state)
    channels: dict[str, dict[str, Any]] = state.data["channels"]

    @routes.post(f"{prefix}/api/chat.postMessage")
    async def post_message(request: web.Request) -> web.Response:
        arguments = _arguments(await state.record(request))
        if (refused := _refusal(request, state, arguments)) is not None:
            return refused
        wanted = str(arguments.get("channel", ""))
        channel = channels.get(wanted) or next(
            (c for c in channels.values() if f"#{c['name']}" == wanted or c["name"] == wanted),
            None,
        )
        if channel is None:
            return _fail("channel_not_found")
        if channel["is_archived"]:
            return _fail("is_archived")
        text, blocks = arguments.get("text"), arguments.get("blocks")
        if blocks is not None and (
            not isinstance(blocks, list)
            or not all(isinstance(b, dict) and "type" in b for b in blocks)
        ):
            return _fail("invalid_blocks")
        if not text and not blocks:
            return _fail("no_text")
        ts = f"1700000000.{next(_ts):06d}"
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
        }
        message |= {k: v for k, v in (("text", text), ("blocks", blocks)) if v is not None}
        if "thread_ts" in arguments:
            message["thread_ts"] = arguments["thread_ts"]
        state.data["messages"].append({"channel": channel["id"], **message})
        return _answer({"ok": True, "channel": channel["id"], "ts": ts, "message": message})

    @routes.get(f"{prefix}/api/conversations.list")
    async def conversations_list(request: web.Request) -> web.Response:
        arguments = _arguments(await state.record(request))
        if (refused := _refusal(request, state, arguments)) is not None:
            return refused
        types = str(arguments.get("types", "public_channel")).split(",")
        if not set(types) <= {"public_channel", "private_channel", "mpim", "im"}:
            return _fail("invalid_types")
        try:
            limit = int(arguments.get("limit", 100))
            start = int(arguments.get("cursor") or 0)
        except ValueError:
            return _fail("invalid_cursor")
        exclude_archived = str(arguments.get("exclude_archived", "false")) in ("true", "1")
        listed = [
            c
            for c in channels.values()
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and not (exclude_archived and c["is_archived"])
        ]
        page = listed[start : start + limit]
        more = start + limit < len(listed)
        return _answer(
            {
                "ok": True,
                "channels": page,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        )

    @routes.get(f"{prefix}/api/users.lookupByEmail")
    async def lookup_by_email(request: web.Request) -> web.Response:
        arguments = _arguments(await state.record(request))
        if (refused := _refusal(request, state, arguments)) is not None:
            return refused
        email = arguments.get("email")
        if not email:
            return _fail("invalid_arguments")
        for user in state.data["users"].values():
            if user["profile"].get("email") == email:
                return _answer({"ok": True, "user": user})
        return _fail("users_not_found")
