"""Every ``web.AppKey`` (and ``web.RequestKey``) of the gateway application, in one place."""

from __future__ import annotations

from aiohttp import web

from shared.config import Settings
from shared.resources import Resources
from shared.tenancy import Principal

SETTINGS = web.AppKey("settings", Settings)
RESOURCES = web.AppKey("resources", Resources)
# Who an API request authenticated as (set before its handler runs; read by the CORS middleware).
PRINCIPAL = web.RequestKey[Principal]("principal")
