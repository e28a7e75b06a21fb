"""Zendesk Support actions (``https://{subdomain}.zendesk.com/api/v2``): tickets are sent and
answered as ``{"ticket": {...}}``, a comment being an update of its ticket."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class TicketCreate(BaseModel):
    """A ticket, opened by its first comment."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=255, description="Subject")
    body: str = Field(min_length=1, max_length=65536, description="First comment (description)")
    requester_email: str | None = Field(
        default=None, pattern=_EMAIL, max_length=320, description="Requester (created if new)"
    )
    requester_name: str | None = Field(
        default=None, max_length=255, description="Requester's name, for a new requester"
    )
    priority: Literal["urgent", "high", "normal", "low"] | None = Field(
        default=None, description="Priority"
    )
    type: Literal["problem", "incident", "question", "task"] | None = Field(
        default=None, description="Ticket type"
    )
    tags: list[str] = Field(default_factory=list, max_length=50, description="Tags")


class CommentAdd(BaseModel):
    """A comment on an existing ticket, optionally changing its status."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: int = Field(ge=1, description="The ticket's id")
    body: str = Field(min_length=1, max_length=65536, description="Comment text")
    public: bool = Field(default=True, description="Visible to the requester (else internal)")
    status: Literal["open", "pending", "hold", "solved"] | None = Field(
        default=None, description="New status"
    )


class TicketGet(BaseModel):
    """One ticket by id."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: int = Field(ge=1, description="The ticket's id")


class UserSearch(BaseModel):
    """Users matching a search (an email, a name, or Zendesk search syntax)."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000, description="e.g. jane@acme.com")


async def create_ticket(ctx: ActionContext, data: TicketCreate) -> Any:
    """Open a ticket."""
    ticket: dict[str, Any] = {"subject": data.subject, "comment": {"body": data.body}}
    if data.requester_email:
        requester = {"email": data.requester_email}
        if data.requester_name:
            requester["name"] = data.requester_name
        ticket["requester"] = requester
    for key in ("priority", "type"):
        if getattr(data, key) is not None:
            ticket[key] = getattr(data, key)
    if data.tags:
        ticket["tags"] = data.tags
    return result_of(await ctx.call_api("POST", "/tickets.json", json={"ticket": ticket}))["ticket"]


async def add_comment(ctx: ActionContext, data: CommentAdd) -> Any:
    """Comment on a ticket."""
    ticket: dict[str, Any] = {"comment": {"body": data.body, "public": data.public}}
    if data.status is not None:
        ticket["status"] = data.status
    path = f"/tickets/{data.ticket_id}.json"
    return result_of(await ctx.call_api("PUT", path, json={"ticket": ticket}))["ticket"]


async def get_ticket(ctx: ActionContext, data: TicketGet) -> Any:
    """Read a ticket."""
    return result_of(await ctx.call_api("GET", f"/tickets/{data.ticket_id}.json"))["ticket"]


async def search_users(ctx: ActionContext, data: UserSearch) -> dict[str, Any]:
    """Search users."""
    found = result_of(await ctx.call_api("GET", "/users/search.json", params={"query": data.query}))
    return {"users": found["users"], "count": found.get("count", len(found["users"]))}


ACTIONS = (
    Action("zendesk.create_ticket", "zendesk", TicketCreate, create_ticket, "Open a ticket"),
    Action("zendesk.add_comment", "zendesk", CommentAdd, add_comment, "Comment on a ticket"),
    Action("zendesk.get_ticket", "zendesk", TicketGet, get_ticket, "Read a ticket"),
    Action("zendesk.search_users", "zendesk", UserSearch, search_users, "Search users"),
)
