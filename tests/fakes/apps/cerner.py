"""A fake Oracle Health (Cerner Millennium) FHIR R4 server: the tenant-scoped base path
``/r4/{tenant}`` (as on fhir-myrecord.cerner.com), token auth by HTTP Basic or JWT only,
read and search (the patient persona creates nothing)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.apps import AppState
from tests.fakes.apps._fhir import Vendor, add_fhir_routes

SANDBOX_TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
FHIR_BASE = f"/r4/{SANDBOX_TENANT}"
CERNER = Vendor(base="/r4/{tenant}", token_auth_methods=("client_secret_basic", "private_key_jwt"))


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Oracle Health's FHIR R4 API below ``prefix`` (any tenant)."""
    add_fhir_routes(routes, prefix, state, CERNER)
