"""Actions of the built-in sandbox app (its contacts API)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of


class CreateContactInput(BaseModel):
    """A contact to create."""

    model_config = ConfigDict(extra="allow")

    email: str = Field(min_length=3, max_length=320)
    name: str | None = Field(default=None, max_length=200)


class ListContactsInput(BaseModel):
    """No input."""

    model_config = ConfigDict(extra="forbid")


async def _create_contact(ctx: ActionContext, data: CreateContactInput) -> Any:
    response = await ctx.call_api("POST", "/contacts", json=data.model_dump(exclude_none=True))
    return result_of(response)


async def _list_contacts(ctx: ActionContext, _: ListContactsInput) -> Any:
    return result_of(await ctx.call_api("GET", "/contacts"))


SANDBOX_CREATE_CONTACT = Action(
    "sandbox.create_contact",
    "sandbox",
    CreateContactInput,
    _create_contact,
    "Create a contact in the sandbox CRM",
)
SANDBOX_LIST_CONTACTS = Action(
    "sandbox.list_contacts", "sandbox", ListContactsInput, _list_contacts, "List sandbox contacts"
)
