"""Linked accounts and their orgs, as Linkport's code holds them (the API shapes are in schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


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


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation linked accounts belong to (created with the first account naming it)."""

    org_id: str
    emr_name: str | None
    emr_instance_domain: str | None
    created_at: datetime
    updated_at: datetime
