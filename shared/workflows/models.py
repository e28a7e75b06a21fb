"""Workflows as stored: the definition (fields and steps) typed, checked whole when saved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldType(StrEnum):
    """What an end user enters in a workflow field."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    SELECT = "select"


class _Stored(BaseModel):
    """Base of the definition's parts: immutable, read back as saved (checked on save)."""

    model_config = ConfigDict(frozen=True)


class FieldSpec(_Stored):
    """A config field an end user fills in for a workflow."""

    key: str
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    default: Any = None
    options: list[str] | None = None


class StepSpec(_Stored):
    """One step: an action, its input (templates) and an optional ``when`` condition."""

    id: str
    action: str
    input: dict[str, Any] = Field(default_factory=dict)
    when: str | None = None


class WorkflowDefinition(_Stored):
    """What a workflow asks of end users and what it runs (the ``definition`` column)."""

    fields: list[FieldSpec] = Field(default_factory=list)
    steps: list[StepSpec]
    default_enabled: bool = False

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> WorkflowDefinition:
        """A definition read back from the database (already checked when it was saved)."""
        return cls.model_validate(stored)

    def to_stored(self) -> dict[str, Any]:
        """The JSON the ``definition`` column holds."""
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Workflow:
    """A saved workflow."""

    id: uuid.UUID
    name: str
    app: str
    trigger_event: str
    definition: WorkflowDefinition
    created_at: datetime
    updated_at: datetime
