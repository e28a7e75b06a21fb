"""Linked accounts: the client's end customers, named by the client's own ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.schemas import ExternalId, Metadata, Name, RequestModel, ResponseModel


class LinkedAccountCreate(RequestModel):
    """Create a linked account, or update it when the id already exists."""

    linked_account_id: ExternalId
    name: Name | None = None
    metadata: Metadata | None = None
    org_id: ExternalId | None = None


class LinkedAccountUpdate(RequestModel):
    """Change some fields of a linked account; ``metadata`` replaces the old value whole."""

    name: Name | None = None
    metadata: Metadata | None = None
    org_id: ExternalId | None = None


class LinkedAccountRead(ResponseModel):
    """A linked account as the API shows it."""

    linked_account_id: str
    name: str | None
    metadata: dict[str, Any]
    org_id: str | None
    created_at: datetime
    updated_at: datetime


class LinkedAccountSaved(LinkedAccountRead):
    """Answer to a create: ``created`` is false when an existing account was updated."""

    created: bool = Field(description="true when new, false when an existing account was updated")


class OrgRead(ResponseModel):
    """An organisation as the API shows it."""

    org_id: str
    emr_name: str | None
    emr_instance_domain: str | None
    created_at: datetime
    updated_at: datetime
