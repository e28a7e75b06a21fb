"""Slack's Web API (docs.slack.dev/reference/methods): post messages, list channels, find
users. Slack answers most failures with HTTP 200 and ``{"ok": false, "error": "<code>"}``;
those are turned into ActionErrors here (a revoked or invalid token is ``unauthorized``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, ActionError, result_of
from shared.infra.outbound import OutboundResponse

# Error codes meaning the token itself is no good (docs.slack.dev/reference/methods, "Errors").
_TOKEN_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"}
)
# The catalog's scopes cover channels (channels:read, groups:read), not DMs (im:read, mpim:read).
ConversationType = Literal["public_channel", "private_channel"]


def _public_channels() -> list[ConversationType]:
    return ["public_channel"]


_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def slack_result(response: OutboundResponse) -> dict[str, Any]:
    """The body of a successful Web API call, or the ActionError its status or ``error`` means."""
    body = result_of(response)
    if not isinstance(body, dict):
        raise ActionError("fatal", "Slack answered something that is not a JSON object")
    if body.get("ok") is True:
        return body
    error = str(body.get("error", "unknown_error"))
    if error in _TOKEN_ERRORS:
        raise ActionError(
            "unauthorized", f"Slack refused the token: {error}", status=response.status
        )
    if error == "ratelimited":
        raise ActionError("retryable", "Slack is rate limiting", status=response.status)
    raise ActionError("fatal", f"Slack refused the call: {error}", status=response.status)


class PostMessageInput(BaseModel):
    """A message to a channel (by id, or name such as ``#general``): text, blocks, or both."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=200, description="Channel id or #name")
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=40000,
        description="Message text (mrkdwn); the notification fallback when blocks are given",
    )
    blocks: list[dict[str, Any]] | None = Field(
        default=None, min_length=1, max_length=50, description="Block Kit blocks"
    )
    thread_ts: str | None = Field(
        default=None, pattern=r"^\d+\.\d+$", description="Reply in the thread of this message ts"
    )

    @model_validator(mode="after")
    def _text_or_blocks(self) -> PostMessageInput:
        if self.text is None and self.blocks is None:
            raise ValueError("give text, blocks, or both")
        return self


class ListChannelsInput(BaseModel):
    """Which conversations to list, one page at a time."""

    model_config = ConfigDict(extra="forbid")

    types: list[ConversationType] = Field(
        default_factory=_public_channels, min_length=1, description="Conversation types"
    )
    exclude_archived: bool = Field(default=True, description="Leave archived channels out")
    limit: int = Field(default=200, ge=1, le=1000, description="Channels per page")
    cursor: str | None = Field(
        default=None, max_length=500, description="next_cursor of the previous page"
    )


class LookupUserByEmailInput(BaseModel):
    """The email address of a workspace member."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, pattern=_EMAIL, description="Email address")


async def _post_message(ctx: ActionContext, data: PostMessageInput) -> Any:
    response = await ctx.call_api(
        "POST", "/chat.postMessage", json=data.model_dump(exclude_none=True)
    )
    body = slack_result(response)
    return {"channel": body.get("channel"), "ts": body.get("ts"), "message": body.get("message")}


async def _list_channels(ctx: ActionContext, data: ListChannelsInput) -> Any:
    params = {
        "types": ",".join(data.types),
        "exclude_archived": "true" if data.exclude_archived else "false",
        "limit": str(data.limit),
    }
    if data.cursor:
        params["cursor"] = data.cursor
    body = slack_result(await ctx.call_api("GET", "/conversations.list", params=params))
    # An empty next_cursor means the last page.
    cursor = (body.get("response_metadata") or {}).get("next_cursor") or None
    return {"channels": body.get("channels", []), "next_cursor": cursor}


async def _lookup_user_by_email(ctx: ActionContext, data: LookupUserByEmailInput) -> Any:
    response = await ctx.call_api("GET", "/users.lookupByEmail", params={"email": data.email})
    return slack_result(response).get("user")


ACTIONS = (
    Action(
        "slack.post_message",
        "slack",
        PostMessageInput,
        _post_message,
        "Post a message to a Slack channel",
    ),
    Action(
        "slack.list_channels",
        "slack",
        ListChannelsInput,
        _list_channels,
        "List the workspace's channels",
    ),
    Action(
        "slack.lookup_user_by_email",
        "slack",
        LookupUserByEmailInput,
        _lookup_user_by_email,
        "Find a Slack user by email address",
    ),
)
