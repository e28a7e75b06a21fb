"""HubSpot actions over the CRM v3 objects API (``https://api.hubapi.com/crm/v3/objects``):
every object is sent and answered as ``{"properties": {...}}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_OBJECT_ID = r"^[0-9]{1,20}$"
# HubSpot-defined association type ids (developers.hubspot.com/docs/api/crm/associations).
_DEAL_TO_CONTACT = 3
_NOTE_TO_CONTACT = 202
_CONTACT_SEARCH_PROPERTIES = ["email", "firstname", "lastname", "phone", "company"]


class _ContactProperties(BaseModel):
    """The contact properties every portal has, and any others by internal name."""

    model_config = ConfigDict(extra="forbid")

    firstname: str | None = Field(default=None, max_length=255, description="First name")
    lastname: str | None = Field(default=None, max_length=255, description="Last name")
    phone: str | None = Field(default=None, max_length=64, description="Phone number")
    company: str | None = Field(default=None, max_length=255, description="Company name")
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="Other contact properties by internal name (e.g. jobtitle, lifecyclestage)",
    )

    def hubspot_properties(self) -> dict[str, str]:
        """The properties object HubSpot takes: named fields win over ``properties``."""
        named = self.model_dump(exclude={"properties", "contact_id"}, exclude_none=True)
        return {**self.properties, **named}


class ContactCreate(_ContactProperties):
    """A contact to create (HubSpot refuses a second contact with the same email)."""

    email: str = Field(pattern=_EMAIL, max_length=320, description="Email address")


class ContactUpdate(_ContactProperties):
    """Properties to change on an existing contact."""

    contact_id: str = Field(pattern=_OBJECT_ID, description="The contact's HubSpot id")
    email: str | None = Field(default=None, pattern=_EMAIL, max_length=320, description="Email")

    @model_validator(mode="after")
    def _changes_something(self) -> ContactUpdate:
        if not self.hubspot_properties():
            raise ValueError("give at least one property to change")
        return self


class ContactSearch(BaseModel):
    """Contacts whose email is exactly this one."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=_EMAIL, max_length=320, description="Email to look for")
    properties: list[str] = Field(
        default_factory=lambda: list(_CONTACT_SEARCH_PROPERTIES),
        max_length=50,
        description="Properties to return for each contact",
    )
    limit: int = Field(default=10, ge=1, le=100, description="At most this many contacts")


class DealCreate(BaseModel):
    """A deal to create, optionally associated with a contact."""

    model_config = ConfigDict(extra="forbid")

    dealname: str = Field(min_length=1, max_length=255, description="Deal name")
    dealstage: str = Field(
        default="appointmentscheduled",
        min_length=1,
        max_length=100,
        description="Internal id of the deal stage in its pipeline",
    )
    pipeline: str = Field(default="default", min_length=1, max_length=100, description="Pipeline")
    amount: float | None = Field(default=None, ge=0, description="Deal amount")
    closedate: datetime | None = Field(default=None, description="Expected close date and time")
    contact_id: str | None = Field(
        default=None, pattern=_OBJECT_ID, description="Associate the deal with this contact"
    )
    properties: dict[str, str] = Field(
        default_factory=dict, description="Other deal properties by internal name"
    )


class NoteCreate(BaseModel):
    """A note on a contact's timeline."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str = Field(pattern=_OBJECT_ID, description="The contact the note is about")
    body: str = Field(min_length=1, max_length=65536, description="Note text (HTML allowed)")
    timestamp: datetime | None = Field(
        default=None, description="When the note happened (default: now)"
    )


def _association(object_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": object_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _hubspot_time(moment: datetime) -> str:
    """A datetime as HubSpot reads it: ISO 8601 in UTC with milliseconds."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: float) -> str:
    """A number as HubSpot's number properties take it: plain digits, never an exponent."""
    return str(int(value)) if value.is_integer() else repr(value)


def _object(body: Any) -> dict[str, Any]:
    """What a CRM object answer holds that matters: its id, properties and times."""
    return {k: body[k] for k in ("id", "properties", "createdAt", "updatedAt") if k in body}


async def create_contact(ctx: ActionContext, data: ContactCreate) -> dict[str, Any]:
    """Create a contact."""
    body = {"properties": {**data.hubspot_properties(), "email": data.email}}
    return _object(result_of(await ctx.call_api("POST", "/crm/v3/objects/contacts", json=body)))


async def update_contact(ctx: ActionContext, data: ContactUpdate) -> dict[str, Any]:
    """Change properties of a contact."""
    properties = data.hubspot_properties()
    path = f"/crm/v3/objects/contacts/{data.contact_id}"
    return _object(result_of(await ctx.call_api("PATCH", path, json={"properties": properties})))


async def search_contacts(ctx: ActionContext, data: ContactSearch) -> dict[str, Any]:
    """Find contacts by email."""
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": data.email}]}
        ],
        "properties": data.properties,
        "limit": data.limit,
    }
    found = result_of(await ctx.call_api("POST", "/crm/v3/objects/contacts/search", json=body))
    return {"total": found["total"], "results": [_object(item) for item in found["results"]]}


async def create_deal(ctx: ActionContext, data: DealCreate) -> dict[str, Any]:
    """Create a deal, associated with a contact when one is given."""
    properties = {**data.properties, "dealname": data.dealname, "dealstage": data.dealstage}
    properties["pipeline"] = data.pipeline
    if data.amount is not None:
        properties["amount"] = _number(data.amount)
    if data.closedate is not None:
        properties["closedate"] = _hubspot_time(data.closedate)
    body: dict[str, Any] = {"properties": properties}
    if data.contact_id is not None:
        body["associations"] = [_association(data.contact_id, _DEAL_TO_CONTACT)]
    return _object(result_of(await ctx.call_api("POST", "/crm/v3/objects/deals", json=body)))


async def create_note(ctx: ActionContext, data: NoteCreate) -> dict[str, Any]:
    """Add a note to a contact's timeline."""
    body = {
        "properties": {
            "hs_note_body": data.body,
            "hs_timestamp": _hubspot_time(data.timestamp or datetime.now(UTC)),
        },
        "associations": [_association(data.contact_id, _NOTE_TO_CONTACT)],
    }
    return _object(result_of(await ctx.call_api("POST", "/crm/v3/objects/notes", json=body)))


ACTIONS = (
    Action("hubspot.create_contact", "hubspot", ContactCreate, create_contact, "Create a contact"),
    Action(
        "hubspot.update_contact",
        "hubspot",
        ContactUpdate,
        update_contact,
        "Update a contact's properties",
    ),
    Action(
        "hubspot.search_contacts",
        "hubspot",
        ContactSearch,
        search_contacts,
        "Find contacts by email",
    ),
    Action("hubspot.create_deal", "hubspot", DealCreate, create_deal, "Create a deal"),
    Action("hubspot.create_note", "hubspot", NoteCreate, create_note, "Add a note to a contact"),
)
