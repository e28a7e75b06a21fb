"""Connector actions: what workflow steps call. Each action has a typed input (pydantic)
and a function; ``ACTIONS`` is the registry workflows are validated against.

Every module of ``shared.connectors.apps`` is read: adding an app's actions is adding one
module there (named after the app's slug) that exports ``ACTIONS``."""

from __future__ import annotations

import importlib
import pkgutil

from shared.connectors import apps as _app_modules
from shared.connectors.base import Action, ActionContext, ActionError
from shared.connectors.http import HTTP_REQUEST
from shared.connectors.sandbox.actions import SANDBOX_CREATE_CONTACT, SANDBOX_LIST_CONTACTS


def _discover() -> dict[str, Action]:
    found: list[Action] = [HTTP_REQUEST, SANDBOX_CREATE_CONTACT, SANDBOX_LIST_CONTACTS]
    for info in sorted(pkgutil.iter_modules(_app_modules.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_app_modules.__name__}.{info.name}")
        for action in module.ACTIONS:
            if action.app != info.name or not action.name.startswith(f"{info.name}."):
                raise RuntimeError(f"{action.name}: an action of {info.name}.py must be its app's")
            found.append(action)
    registry: dict[str, Action] = {}
    for action in found:
        if action.name in registry:
            raise RuntimeError(f"two actions are named {action.name}")
        registry[action.name] = action
    return registry


ACTIONS: dict[str, Action] = _discover()


def actions_of(app: str) -> list[Action]:
    """The actions of one app, by name."""
    return sorted((a for a in ACTIONS.values() if a.app == app), key=lambda a: a.name)


__all__ = ["ACTIONS", "Action", "ActionContext", "ActionError", "actions_of"]
