"""A fake athenahealth FHIR R4 server: the base path ``/fhir/r4`` of
api.platform.athenahealth.com, read and search only (its CapabilityStatement offers no
create on Patient or Observation)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.apps import AppState
from tests.fakes.apps._fhir import Vendor, add_fhir_routes

FHIR_BASE = "/fhir/r4"
ATHENAHEALTH = Vendor(
    base=FHIR_BASE,
    token_auth_methods=(
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ),
)


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """athenahealth's FHIR R4 API below ``prefix``."""
    add_fhir_routes(routes, prefix, state, ATHENAHEALTH)
