"""Salesforce actions over the REST API of the connected org (``{instance_url}/services/data/
vNN.0``): sObject rows by type, and SOQL queries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, result_of

# Standard and custom (``__c``) sObject API names, and 15- or 18-character record ids.
_SOBJECT = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"
_RECORD_ID = r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class RecordCreate(BaseModel):
    """A row of any sObject type."""

    model_config = ConfigDict(extra="forbid")

    sobject: str = Field(
        pattern=_SOBJECT, description="sObject API name, e.g. Account or Invoice__c"
    )
    fields: dict[str, Any] = Field(
        min_length=1, description='Field API names and values, e.g. {"Name": "Acme"}'
    )


class RecordUpdate(RecordCreate):
    """Fields to change on one row."""

    record_id: str = Field(pattern=_RECORD_ID, description="The record's 15 or 18 character id")


class Query(BaseModel):
    """A SOQL query."""

    model_config = ConfigDict(extra="forbid")

    soql: str = Field(
        min_length=1,
        max_length=100_000,
        description="SOQL, e.g. SELECT Id, Name FROM Account WHERE Name = 'Acme'",
    )


class _Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=40, description="First name")
    last_name: str = Field(min_length=1, max_length=80, description="Last name")
    email: str | None = Field(default=None, pattern=_EMAIL, max_length=80, description="Email")
    phone: str | None = Field(default=None, max_length=40, description="Phone")
    title: str | None = Field(default=None, max_length=128, description="Job title")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Other field API names and values"
    )

    def salesforce_fields(self, **more: str | None) -> dict[str, Any]:
        """The row as Salesforce names its fields (named values win over ``fields``)."""
        named = {
            "FirstName": self.first_name,
            "LastName": self.last_name,
            "Email": self.email,
            "Phone": self.phone,
            "Title": self.title,
            **more,
        }
        return {**self.fields, **{k: v for k, v in named.items() if v is not None}}


class LeadCreate(_Person):
    """A lead (Salesforce requires a last name and a company)."""

    company: str = Field(min_length=1, max_length=255, description="Company")


class ContactCreate(_Person):
    """A contact, optionally under an account."""

    account_id: str | None = Field(
        default=None, pattern=_RECORD_ID, description="The account the contact belongs to"
    )


async def _create(ctx: ActionContext, sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
    created = result_of(await ctx.call_api("POST", f"/sobjects/{sobject}/", json=fields))
    return {"id": created["id"], "sobject": sobject, "success": created["success"]}


async def create_record(ctx: ActionContext, data: RecordCreate) -> dict[str, Any]:
    """Create a row of any sObject type."""
    return await _create(ctx, data.sobject, data.fields)


async def update_record(ctx: ActionContext, data: RecordUpdate) -> dict[str, Any]:
    """Change fields of a row (Salesforce answers 204 with no body)."""
    path = f"/sobjects/{data.sobject}/{data.record_id}"
    result_of(await ctx.call_api("PATCH", path, json=data.fields))
    return {"id": data.record_id, "sobject": data.sobject, "updated": sorted(data.fields)}


async def query(ctx: ActionContext, data: Query) -> dict[str, Any]:
    """Run a SOQL query; the first page of records, and where the next one is."""
    found = result_of(await ctx.call_api("GET", "/query", params={"q": data.soql}))
    page = {k: found[k] for k in ("totalSize", "done", "records")}
    if found.get("nextRecordsUrl"):
        page["nextRecordsUrl"] = found["nextRecordsUrl"]
    return page


async def create_lead(ctx: ActionContext, data: LeadCreate) -> dict[str, Any]:
    """Create a lead."""
    return await _create(ctx, "Lead", data.salesforce_fields(Company=data.company))


async def create_contact(ctx: ActionContext, data: ContactCreate) -> dict[str, Any]:
    """Create a contact."""
    return await _create(ctx, "Contact", data.salesforce_fields(AccountId=data.account_id))


ACTIONS = (
    Action(
        "salesforce.create_record",
        "salesforce",
        RecordCreate,
        create_record,
        "Create a record of any object type",
    ),
    Action(
        "salesforce.update_record", "salesforce", RecordUpdate, update_record, "Update a record"
    ),
    Action("salesforce.query", "salesforce", Query, query, "Run a SOQL query"),
    Action("salesforce.create_lead", "salesforce", LeadCreate, create_lead, "Create a lead"),
    Action(
        "salesforce.create_contact", "salesforce", ContactCreate, create_contact, "Create a contact"
    ),
)
