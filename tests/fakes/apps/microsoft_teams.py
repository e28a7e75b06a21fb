"""A fake of Microsoft Graph v1.0's Teams messaging (learn.microsoft.com/graph/api/resources/
teams-api-overview) below ``https://graph.microsoft.com``: ``/v1.0/me/joinedTeams``,
``/v1.0/teams/{team-id}/channels/{channel-id}/messages``, ``/v1.0/chats/{chat-id}/messages``.

Errors have Graph's shape ``{"error": {"code", "message", "innerError"}}``: 401
``InvalidAuthenticationToken``, 400 ``BadRequest`` for a message without content or with a
content type other than html/text, 404 ``NotFound`` for an unknown team, channel or chat,
429 ``TooManyRequests`` with ``Retry-After``. Messages are answered 201 as ``chatMessage``.

``state.data``: ``teams`` (by id, each with ``channels``), ``chats`` (by id), ``messages``
(posted), ``rate_limited``: a Retry-After value the next call answers 429 with."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

TEAM_ID = "172b0cce-e65d-44ce-9a49-91d9f2e8493a"
CHANNEL_ID = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"
CHAT_ID = (
    "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces"
)
USER = {"id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2", "displayName": "Ada Lovelace"}
_ids = itertools.count(1616990032035)


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "teams",
        {
            TEAM_ID: {
                "id": TEAM_ID,
                "displayName": "Contoso Sales",
                "description": "Sales team",
                "isArchived": False,
                "channels": {CHANNEL_ID: {"id": CHANNEL_ID, "displayName": "General"}},
            }
        },
    )
    state.data.setdefault("chats", {CHAT_ID: {"id": CHAT_ID, "chatType": "oneOnOne"}})
    state.data.setdefault("messages", [])


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": "fake"}
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return web.json_response(body, status=status, headers=headers)


def _refusal(request: web.Request, state: AppState) -> web.Response | None:
    if "rate_limited" in state.data:
        wait = str(state.data.pop("rate_limited"))
        return _error(
            429, "TooManyRequests", "Too many requests, retry later.", **{"Retry-After": wait}
        )
    if "Authorization" not in request.headers:
        return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
    if not state.authorized(request):
        return _error(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
    return None


def _bad_body(body: Any) -> str | None:
    """What is wrong with a chatMessage payload, in Graph's words, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("body"), dict):
        return "Missing body content"
    content_type = body["body"].get("contentType", "text")
    if content_type not in ("html", "text"):
        return f"Requested value '{content_type}' was not found."
    if not body["body"].get("content"):
        return "Missing body content"
    return None


def _chat_message(body: dict[str, Any], **where: Any) -> dict[str, Any]:
    message_id = str(next(_ids))
    return {
        "id": message_id,
        "replyToId": None,
        "etag": message_id,
        "messageType": "message",
        "createdDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "subject": body.get("subject"),
        "importance": body.get("importance", "normal"),
        "from": {"user": {**USER, "userIdentityType": "aadUser"}},
        "body": {
            "contentType": body["body"].get("contentType", "text"),
            "content": body["body"]["content"],
        },
        "webUrl": f"https://teams.microsoft.com/l/message/{message_id}",
        **where,
    }


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Graph's joinedTeams and message-sending routes."""
    _seed(state)

    @routes.get(f"{prefix}/v1.0/me/joinedTeams")
    async def joined_teams(request: web.Request) -> web.Response:
        await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        teams = [
            {k: v for k, v in team.items() if k != "channels"}
            for team in state.data["teams"].values()
        ]
        return web.json_response(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#teams",
                "@odata.count": len(teams),
                "value": teams,
            }
        )

    @routes.post(f"{prefix}/v1.0/teams/{{team_id}}/channels/{{channel_id}}/messages")
    async def channel_message(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        team = state.data["teams"].get(request.match_info["team_id"])
        channel_id = request.match_info["channel_id"]
        if team is None or channel_id not in team["channels"]:
            return _error(404, "NotFound", "No team or channel found with this id.")
        if (problem := _bad_body(call.body)) is not None:
            return _error(400, "BadRequest", problem)
        message = _chat_message(
            call.body, channelIdentity={"teamId": team["id"], "channelId": channel_id}
        )
        state.data["messages"].append(message)
        return web.json_response(message, status=201)

    @routes.post(f"{prefix}/v1.0/chats/{{chat_id}}/messages")
    async def chat_message(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        chat_id = request.match_info["chat_id"]
        if chat_id not in state.data["chats"]:
            return _error(404, "NotFound", f"Chat {chat_id} was not found.")
        if (problem := _bad_body(call.body)) is not None:
            return _error(400, "BadRequest", problem)
        message = _chat_message(call.body, chatId=chat_id)
        state.data["messages"].append(message)
        return web.json_response(message, status=201)
