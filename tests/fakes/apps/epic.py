"""A fake Epic FHIR R4 server (https://fhir.epic.com/Specifications): the sandbox's base path
``/interconnect-fhir-oauth/api/FHIR/R4``, Epic's numeric error codes in
``OperationOutcome.issue.details`` (4101 no results, 4102 invalid id, 4110 no parameters,
4111 required parameter missing, 59105 structure, 59108 required element missing, 59111
required element invalid), Observation searches refused without a category or code, and
``Observation.Create (Vitals)`` answering 201 with only a Location."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.apps import AppState
from tests.fakes.apps._fhir import Vendor, add_fhir_routes

FHIR_BASE = "/interconnect-fhir-oauth/api/FHIR/R4"
EPIC = Vendor(
    base=FHIR_BASE,
    token_auth_methods=("client_secret_post", "client_secret_basic", "private_key_jwt"),
    observation_needs_category_or_code=True,
    creates=frozenset({"Observation"}),
    codes={
        "no-results": "4101",
        "invalid-id": "4102",
        "no-params": "4110",
        "missing-param": "4111",
        "structure": "59105",
        "required-element": "59108",
        "invalid-element": "59111",
    },
    outcome_on_empty_search=True,
)


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Epic's FHIR R4 API below ``prefix``."""
    add_fhir_routes(routes, prefix, state, EPIC)
