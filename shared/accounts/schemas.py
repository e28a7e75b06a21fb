"""Linked accounts: the client's end customers, named by the client's own ids."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Self

from pydantic import Field

from shared.accounts.models import LinkedAccount, Org
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

    @classmethod
    def of(cls, account: LinkedAccount) -> Self:
        """The API shape of an account."""
        return cls.model_validate(account, from_attributes=True)


class LinkedAccountSaved(LinkedAccountRead):
    """Answer to a create: ``created`` is false when an existing account was updated."""

    created: bool = Field(description="true when new, false when an existing account was updated")

    @classmethod
    def of_saved(cls, account: LinkedAccount, *, created: bool) -> Self:
        """The API shape of a saved account."""
        return cls.model_validate({**asdict(account), "created": created})


class OrgRead(ResponseModel):
    """An organisation as the API shows it."""

    org_id: str
    emr_name: str | None
    emr_instance_domain: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: Org) -> Self:
        """The API shape of an org."""
        return cls.model_validate(org, from_attributes=True)
