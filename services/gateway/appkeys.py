"""Every ``web.AppKey`` of the gateway application, in one place."""

from __future__ import annotations

from aiohttp import web

from shared.config import Settings
from shared.resources import Resources

SETTINGS = web.AppKey("settings", Settings)
RESOURCES = web.AppKey("resources", Resources)
