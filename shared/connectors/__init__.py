"""Connector actions: what workflow steps call. Each action has a typed input (pydantic)
and a function; ``ACTIONS`` is the registry workflows are validated against."""

from __future__ import annotations

from shared.connectors.base import Action, ActionContext, ActionError
from shared.connectors.http import HTTP_REQUEST
from shared.connectors.sandbox.actions import SANDBOX_CREATE_CONTACT, SANDBOX_LIST_CONTACTS

ACTIONS: dict[str, Action] = {
    action.name: action for action in (HTTP_REQUEST, SANDBOX_CREATE_CONTACT, SANDBOX_LIST_CONTACTS)
}

__all__ = ["ACTIONS", "Action", "ActionContext", "ActionError"]
