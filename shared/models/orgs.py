"""Organisations (clinics, hospitals…) that linked accounts belong to."""

from __future__ import annotations

from datetime import datetime

from shared.models.common import ResponseModel


class OrgRead(ResponseModel):
    """An organisation as the API shows it."""

    org_id: str
    emr_name: str | None
    emr_instance_domain: str | None
    created_at: datetime
    updated_at: datetime
