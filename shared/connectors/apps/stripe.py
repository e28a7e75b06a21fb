"""Stripe actions (``https://api.stripe.com/v1``): bodies are form-encoded, nested values
flattened as ``metadata[key]=value``; answers are the created object or a list page
``{"object": "list", "data", "has_more"}``. Every POST carries the step's Idempotency-Key, which
Stripe honours: a retried step gets the first answer back instead of a second object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.connectors.base import Action, ActionContext, result_of

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_CUSTOMER_ID = r"^cus_[A-Za-z0-9]+$"
# Stripe's metadata limits: 50 keys, keys up to 40 characters (no square brackets, which
# would break the form encoding), values up to 500.
_METADATA_KEYS = 50


def _checked_metadata(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not key or len(key) > 40 or "[" in key or "]" in key:
            raise ValueError(f"metadata key {key[:40]!r}: 1-40 characters, no square brackets")
        if len(item) > 500:
            raise ValueError(f"metadata value of {key!r}: at most 500 characters")
    return value


def _metadata_form(metadata: dict[str, str]) -> dict[str, str]:
    return {f"metadata[{key}]": value for key, value in metadata.items()}


class CustomerCreate(BaseModel):
    """A customer: who is charged and invoiced."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, pattern=_EMAIL, max_length=512, description="Email")
    name: str | None = Field(default=None, min_length=1, max_length=256, description="Full name")
    description: str | None = Field(
        default=None, max_length=350, description="Note shown in the Dashboard"
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        max_length=_METADATA_KEYS,
        description="Your own key-value pairs (up to 50)",
    )

    _metadata = field_validator("metadata")(_checked_metadata)


class CustomerList(BaseModel):
    """A page of customers, newest first, optionally those with one email."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        default=None, min_length=1, max_length=512, description="Exact email (case-sensitive)"
    )
    limit: int = Field(default=10, ge=1, le=100, description="Page size (1-100)")
    starting_after: str | None = Field(
        default=None, pattern=_CUSTOMER_ID, description="Last customer id of the previous page"
    )


class InvoiceItemCreate(BaseModel):
    """A pending charge added to the customer's next invoice."""

    model_config = ConfigDict(extra="forbid")

    customer: str = Field(pattern=_CUSTOMER_ID, description="The customer's id (cus_…)")
    amount: int = Field(
        ge=-99_999_999,
        le=99_999_999,
        description="In the currency's smallest unit (cents); negative for a credit",
    )
    currency: str = Field(pattern=r"^[a-z]{3}$", description="ISO 4217 code, lowercase (usd)")
    description: str | None = Field(
        default=None, min_length=1, max_length=500, description="Shown on the invoice"
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        max_length=_METADATA_KEYS,
        description="Your own key-value pairs (up to 50)",
    )

    _metadata = field_validator("metadata")(_checked_metadata)


async def create_customer(ctx: ActionContext, data: CustomerCreate) -> Any:
    """Create a customer."""
    form = {k: v for k in ("email", "name", "description") if (v := getattr(data, k)) is not None}
    form.update(_metadata_form(data.metadata))
    return result_of(await ctx.call_api("POST", "/customers", data=form))


async def list_customers(ctx: ActionContext, data: CustomerList) -> dict[str, Any]:
    """List customers."""
    params = {"limit": str(data.limit)}
    if data.email is not None:
        params["email"] = data.email
    if data.starting_after is not None:
        params["starting_after"] = data.starting_after
    page = result_of(await ctx.call_api("GET", "/customers", params=params))
    return {"customers": page["data"], "has_more": page["has_more"]}


async def create_invoice_item(ctx: ActionContext, data: InvoiceItemCreate) -> Any:
    """Add an invoice item."""
    form = {"customer": data.customer, "amount": str(data.amount), "currency": data.currency}
    if data.description is not None:
        form["description"] = data.description
    form.update(_metadata_form(data.metadata))
    return result_of(await ctx.call_api("POST", "/invoiceitems", data=form))


ACTIONS = (
    Action(
        "stripe.create_customer", "stripe", CustomerCreate, create_customer, "Create a customer"
    ),
    Action("stripe.list_customers", "stripe", CustomerList, list_customers, "List customers"),
    Action(
        "stripe.create_invoice_item",
        "stripe",
        InvoiceItemCreate,
        create_invoice_item,
        "Add a charge to a customer's next invoice",
    ),
)
