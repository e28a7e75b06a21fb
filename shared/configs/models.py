"""Configs as stored: per linked account and app, field values and the workflows enabled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Config:
    """One config of a linked account for an app (``config_id``: the client's name for it)."""

    id: uuid.UUID
    linked_account_id: str
    app: str
    config_id: str
    field_values: dict[str, Any]
    enabled_workflows: list[uuid.UUID]
    # The connection its workflows use (None: the account's newest active one to the app).
    connection_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
