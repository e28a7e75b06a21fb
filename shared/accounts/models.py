"""Linked accounts and their orgs, as Linkport's code holds them (the API shapes are in schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from shared.tenancy import Tenant

# The namespace of account UUIDs (the webhooks name accounts by the same derivation).
_ACCOUNT_UUID_NAMESPACE = UUID("5f0b7a52-3c1e-4d5e-9a43-6b1f6f4f2c11")


def account_uuid(tenant: Tenant, linked_account_id: str) -> UUID:
    """The account's UUID, for APIs whose user ids are UUIDs (Vital's ``user_id``): derived
    from the tenant and the account's id, so it is stable and needs no lookup to compute."""
    return uuid5(
        _ACCOUNT_UUID_NAMESPACE, f"{tenant.client_id}:{tenant.environment}:{linked_account_id}"
    )


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the hot paths need to know about an account: that it exists, since when, its org."""

    created_at: datetime
    org_id: str | None


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """One end customer of a client, named by the client's own id."""

    linked_account_id: str
    name: str | None
    metadata: dict[str, Any]
    org_id: str | None
    created_at: datetime
    updated_at: datetime
    # Its UUID (see ``account_uuid``) and what UUID-keyed APIs keep about the person (Vital's
    # fallback time zone and birth date, its ingestion window).
    account_uuid: UUID
    profile: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation linked accounts belong to (created with the first account naming it)."""

    org_id: str
    emr_name: str | None
    emr_instance_domain: str | None
    created_at: datetime
    updated_at: datetime
