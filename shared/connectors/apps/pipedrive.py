"""Pipedrive actions over API v2 on the company's own domain (``{api_domain}/api/v2``); every
answer is ``{"success": true, "data": ...}``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SearchField = Literal["name", "email", "phone", "notes", "custom_fields"]


class PersonCreate(BaseModel):
    """A person (a contact) to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="Full name")
    email: str | None = Field(default=None, pattern=_EMAIL, max_length=320, description="Email")
    phone: str | None = Field(default=None, max_length=64, description="Phone number")
    org_id: int | None = Field(default=None, ge=1, description="Organization the person is in")
    owner_id: int | None = Field(default=None, ge=1, description="Owning user (default: you)")


class DealCreate(BaseModel):
    """A deal to create."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=255, description="Deal title")
    value: float | None = Field(default=None, ge=0, description="Deal value")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of the value"
    )
    person_id: int | None = Field(default=None, ge=1, description="Person the deal is with")
    org_id: int | None = Field(default=None, ge=1, description="Organization the deal is with")
    stage_id: int | None = Field(default=None, ge=1, description="Pipeline stage")
    status: Literal["open", "won", "lost"] | None = Field(default=None, description="Status")
    expected_close_date: date | None = Field(default=None, description="Expected close date")


class PersonSearch(BaseModel):
    """Persons matching a term in some of their fields."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=2, max_length=255, description="What to look for (2+ chars)")
    fields: list[SearchField] = Field(
        default_factory=lambda: list[SearchField](["email"]),
        min_length=1,
        description="Fields to search in",
    )
    exact_match: bool = Field(default=True, description="Whole-value match only")
    limit: int = Field(default=10, ge=1, le=500, description="At most this many persons")


async def create_person(ctx: ActionContext, data: PersonCreate) -> Any:
    """Create a person."""
    body: dict[str, Any] = data.model_dump(exclude={"email", "phone"}, exclude_none=True)
    if data.email:
        body["emails"] = [{"value": data.email, "primary": True, "label": "work"}]
    if data.phone:
        body["phones"] = [{"value": data.phone, "primary": True, "label": "work"}]
    return result_of(await ctx.call_api("POST", "/persons", json=body))["data"]


async def create_deal(ctx: ActionContext, data: DealCreate) -> Any:
    """Create a deal."""
    body = data.model_dump(mode="json", exclude_none=True)
    return result_of(await ctx.call_api("POST", "/deals", json=body))["data"]


async def search_persons(ctx: ActionContext, data: PersonSearch) -> dict[str, Any]:
    """Search persons; each item as Pipedrive scores it."""
    params = {
        "term": data.term,
        "fields": ",".join(data.fields),
        "exact_match": "true" if data.exact_match else "false",
        "limit": str(data.limit),
    }
    found = result_of(await ctx.call_api("GET", "/persons/search", params=params))
    cursor = (found.get("additional_data") or {}).get("next_cursor")
    return {"items": found["data"]["items"], "next_cursor": cursor}


ACTIONS = (
    Action("pipedrive.create_person", "pipedrive", PersonCreate, create_person, "Create a person"),
    Action("pipedrive.create_deal", "pipedrive", DealCreate, create_deal, "Create a deal"),
    Action(
        "pipedrive.search_persons",
        "pipedrive",
        PersonSearch,
        search_persons,
        "Search persons by email, name or phone",
    ),
)
