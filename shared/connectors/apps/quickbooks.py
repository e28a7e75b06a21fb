"""QuickBooks Online Accounting API actions (``/v3/company/{realm_id}``): an entity is sent
bare and answered as ``{"<Entity>": {...}, "time": ...}``; errors come as ``{"Fault": ...}``."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.connectors.base import Action, ActionContext, result_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_ENTITY_ID = r"^[0-9]{1,20}$"
# Intuit retired minor versions 1-74 in August 2025; 75 is the base every call names.
_MINOR_VERSION = "75"
# Without it the API answers XML.
_JSON = {"Accept": "application/json"}


class CustomerCreate(BaseModel):
    """A customer (QuickBooks needs a display name or some part of a person's name)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(
        default=None, min_length=1, max_length=500, description="Unique name shown in lists"
    )
    given_name: str | None = Field(default=None, max_length=100, description="First name")
    family_name: str | None = Field(default=None, max_length=100, description="Last name")
    company_name: str | None = Field(default=None, max_length=100, description="Company")
    email: str | None = Field(default=None, pattern=_EMAIL, max_length=100, description="Email")
    phone: str | None = Field(default=None, max_length=30, description="Phone")

    @model_validator(mode="after")
    def _named(self) -> CustomerCreate:
        if not (self.display_name or self.given_name or self.family_name):
            raise ValueError("give a display_name, or a given_name or family_name")
        return self


class InvoiceLine(BaseModel):
    """One sales line: an amount for a product or service."""

    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, description="Line total")
    item_id: str | None = Field(
        default=None, pattern=_ENTITY_ID, description="Product/service (Item) id"
    )
    description: str | None = Field(default=None, max_length=4000, description="Line text")
    quantity: float | None = Field(default=None, gt=0, description="Quantity")
    unit_price: float | None = Field(default=None, ge=0, description="Price per unit")


class InvoiceCreate(BaseModel):
    """An invoice to a customer."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=_ENTITY_ID, description="The customer's QuickBooks id")
    lines: list[InvoiceLine] = Field(min_length=1, max_length=750, description="Sales lines")
    due_date: date | None = Field(default=None, description="Due date")
    email: str | None = Field(
        default=None, pattern=_EMAIL, max_length=100, description="Where the invoice is emailed"
    )


class Query(BaseModel):
    """A query in QuickBooks' SQL-like language."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        pattern=r"(?is)^\s*select\s",
        max_length=4000,
        description="e.g. select * from Customer where DisplayName = 'Acme'",
    )


def _line(line: InvoiceLine) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if line.item_id is not None:
        detail["ItemRef"] = {"value": line.item_id}
    if line.quantity is not None:
        detail["Qty"] = line.quantity
    if line.unit_price is not None:
        detail["UnitPrice"] = line.unit_price
    row: dict[str, Any] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": line.amount,
        "SalesItemLineDetail": detail,
    }
    if line.description:
        row["Description"] = line.description
    return row


async def _call(ctx: ActionContext, method: str, path: str, **kwargs: Any) -> Any:
    params = {**kwargs.pop("params", {}), "minorversion": _MINOR_VERSION}
    return result_of(await ctx.call_api(method, path, params=params, headers=_JSON, **kwargs))


async def create_customer(ctx: ActionContext, data: CustomerCreate) -> Any:
    """Create a customer."""
    body: dict[str, Any] = {}
    for key, name in (
        ("display_name", "DisplayName"),
        ("given_name", "GivenName"),
        ("family_name", "FamilyName"),
        ("company_name", "CompanyName"),
    ):
        if getattr(data, key):
            body[name] = getattr(data, key)
    if data.email:
        body["PrimaryEmailAddr"] = {"Address": data.email}
    if data.phone:
        body["PrimaryPhone"] = {"FreeFormNumber": data.phone}
    return (await _call(ctx, "POST", "/customer", json=body))["Customer"]


async def create_invoice(ctx: ActionContext, data: InvoiceCreate) -> Any:
    """Create an invoice."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": data.customer_id},
        "Line": [_line(line) for line in data.lines],
    }
    if data.due_date:
        body["DueDate"] = data.due_date.isoformat()
    if data.email:
        body["BillEmail"] = {"Address": data.email}
    return (await _call(ctx, "POST", "/invoice", json=body))["Invoice"]


async def query(ctx: ActionContext, data: Query) -> Any:
    """Run a query; the QueryResponse (entities under their type name, and paging)."""
    return (await _call(ctx, "GET", "/query", params={"query": data.query}))["QueryResponse"]


ACTIONS = (
    Action(
        "quickbooks.create_customer",
        "quickbooks",
        CustomerCreate,
        create_customer,
        "Create a customer",
    ),
    Action(
        "quickbooks.create_invoice",
        "quickbooks",
        InvoiceCreate,
        create_invoice,
        "Create an invoice",
    ),
    Action("quickbooks.query", "quickbooks", Query, query, "Query company data"),
)
