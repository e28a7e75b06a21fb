"""Microsoft Teams through Microsoft Graph v1.0 (learn.microsoft.com/graph/api/resources/
teams-api-overview): post to a channel or a chat, list the teams the user joined."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Channel and chat ids are thread ids: "19:abc…@thread.tacv2", "19:…@unq.gbl.spaces", and
# "48:notes" for the chat with oneself (never a slash, so one path segment).
_THREAD_ID = r"^\d{2}:[A-Za-z0-9_.:@-]{1,250}$"


class SendChannelMessageInput(BaseModel):
    """A message to a team's channel."""

    model_config = ConfigDict(extra="forbid")

    team_id: str = Field(pattern=_GUID, description="The team's id (a GUID)")
    channel_id: str = Field(pattern=_THREAD_ID, description="The channel's id (19:…@thread.tacv2)")
    content: str = Field(min_length=1, max_length=28000, description="The message body")
    content_type: Literal["html", "text"] = Field(default="html", description="Body format")
    subject: str | None = Field(default=None, max_length=255, description="Optional subject line")


class SendChatMessageInput(BaseModel):
    """A message to a one-on-one or group chat."""

    model_config = ConfigDict(extra="forbid")

    chat_id: str = Field(pattern=_THREAD_ID, description="The chat's id (19:…@unq.gbl.spaces)")
    content: str = Field(min_length=1, max_length=28000, description="The message body")
    content_type: Literal["html", "text"] = Field(default="html", description="Body format")


class ListJoinedTeamsInput(BaseModel):
    """No input: the teams of the connected user."""

    model_config = ConfigDict(extra="forbid")


def _message(content: str, content_type: str) -> dict[str, Any]:
    return {"body": {"contentType": content_type, "content": content}}


async def _send_channel_message(ctx: ActionContext, data: SendChannelMessageInput) -> Any:
    payload = _message(data.content, data.content_type)
    if data.subject is not None:
        payload["subject"] = data.subject
    path = f"/teams/{data.team_id}/channels/{data.channel_id}/messages"
    return result_of(await ctx.call_api("POST", path, json=payload))


async def _send_chat_message(ctx: ActionContext, data: SendChatMessageInput) -> Any:
    payload = _message(data.content, data.content_type)
    return result_of(await ctx.call_api("POST", f"/chats/{data.chat_id}/messages", json=payload))


async def _list_joined_teams(ctx: ActionContext, _: ListJoinedTeamsInput) -> Any:
    body = result_of(await ctx.call_api("GET", "/me/joinedTeams"))
    return {"teams": body.get("value", []) if isinstance(body, dict) else []}


ACTIONS = (
    Action(
        "microsoft_teams.send_channel_message",
        "microsoft_teams",
        SendChannelMessageInput,
        _send_channel_message,
        "Post a message to a Teams channel",
    ),
    Action(
        "microsoft_teams.send_chat_message",
        "microsoft_teams",
        SendChatMessageInput,
        _send_chat_message,
        "Send a message in a Teams chat",
    ),
    Action(
        "microsoft_teams.list_joined_teams",
        "microsoft_teams",
        ListJoinedTeamsInput,
        _list_joined_teams,
        "List the teams the connected user is a member of",
    ),
)
