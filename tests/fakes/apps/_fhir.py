"""A fake FHIR R4 server behind SMART on FHIR, shared by the EMR app fakes (Epic, Oracle
Health, athenahealth), each giving its FHIR base path and its quirks as a :class:`Vendor`.

Below ``{prefix}{base}`` it serves ``/.well-known/smart-configuration`` (SMART App Launch
2.x: the authorize and token endpoints point at the generic OAuth fake's ``/{slug}/oauth/…``),
``Patient/{id}``, ``Patient?…`` and ``Observation?…`` searches answering ``searchset``
Bundles, and ``POST Observation`` where the vendor accepts it. Every other answer is an
``OperationOutcome``: 401 for an unknown bearer token, 404 for an unknown id, 400 for a
search or resource the server refuses, 429 (with Retry-After) while ``state.data["throttle"]``
is set. Patients and observations live in ``state.data`` (seeded with one patient)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

FHIR_JSON = "application/fhir+json"
PATIENT_ID = "erXuFYUfucBZaryVksYEcMg3"
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": PATIENT_ID,
    "identifier": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14", "value": "203713"}],
    "name": [{"use": "official", "family": "Lopez", "given": ["Camila", "Maria"]}],
    "gender": "female",
    "birthDate": "1987-09-12",
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "eA6n4wbL4zMwoY6Cq8b1Nvg3",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "effectiveDateTime": "2024-03-05T14:30:00Z",
    "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org"},
}


@dataclass(frozen=True)
class Vendor:
    """What differs between EMRs' FHIR servers, as far as the fakes go."""

    # The FHIR base's path below the API host (may hold a route variable, e.g. {tenant}).
    base: str
    # token_endpoint_auth_methods_supported of its smart-configuration.
    token_auth_methods: tuple[str, ...]
    # Observation search needs category or code besides the patient (Epic: error 4111).
    observation_needs_category_or_code: bool = False
    # Resource types a POST may create (Epic: Observation vitals).
    creates: frozenset[str] = frozenset()
    # Vendor error codes by situation, put in issue.details.coding (Epic's 41xx / 591xx).
    codes: dict[str, str] = field(default_factory=dict)
    # An OperationOutcome entry (search mode "outcome") in an empty searchset (Epic's 4101).
    outcome_on_empty_search: bool = False


def outcome(
    vendor: Vendor,
    status: int,
    code: str,
    diagnostics: str,
    *,
    situation: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An OperationOutcome answer with one issue."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if situation is not None and situation in vendor.codes:
        issue["details"] = {
            "coding": [{"code": vendor.codes[situation], "display": diagnostics}],
            "text": diagnostics,
        }
    return web.json_response(
        {"resourceType": "OperationOutcome", "issue": [issue]},
        status=status,
        content_type=FHIR_JSON,
        headers=headers,
    )


def _token_matches(concept: Any, wanted: str) -> bool:
    system, _, code = wanted.rpartition("|") if "|" in wanted else ("", "", wanted)
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return any(c.get("code") == code and (not system or c.get("system") == system) for c in codings)


def _date_matches(value: str, bound: str) -> bool:
    prefix, date = (bound[:2], bound[2:]) if bound[:2].isalpha() else ("eq", bound)
    stamp = value[: len(date)]
    return {
        "eq": stamp == date,
        "ge": stamp >= date,
        "gt": stamp > date,
        "le": stamp <= date,
        "lt": stamp < date,
    }.get(prefix, False)


def _patient_matches(patient: dict[str, Any], request: web.Request) -> bool:
    names = patient.get("name", [])
    if (family := request.query.get("family")) is not None and not any(
        n.get("family", "").lower().startswith(family.lower()) for n in names
    ):
        return False
    if (given := request.query.get("given")) is not None and not any(
        g.lower().startswith(given.lower()) for n in names for g in n.get("given", [])
    ):
        return False
    if (birthdate := request.query.get("birthdate")) is not None and not _date_matches(
        patient.get("birthDate", ""), birthdate
    ):
        return False
    if (identifier := request.query.get("identifier")) is not None:
        system, _, value = identifier.rpartition("|")
        if not any(
            i.get("value") == value and (not system or i.get("system") == system)
            for i in patient.get("identifier", [])
        ):
            return False
    return True


def _bundle(vendor: Vendor, request: web.Request, resources: list[dict[str, Any]]) -> web.Response:
    base = str(request.url.with_query(None)).rsplit("/", 1)[0]
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    if not resources and vendor.outcome_on_empty_search:
        issue: dict[str, Any] = {
            "severity": "warning",
            "code": "processing",
            "diagnostics": "No results.",
        }
        if "no-results" in vendor.codes:
            issue["details"] = {"coding": [{"code": vendor.codes["no-results"]}]}
        entries.append(
            {
                "resource": {"resourceType": "OperationOutcome", "issue": [issue]},
                "search": {"mode": "outcome"},
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": entries,
    }
    return web.json_response(bundle, content_type=FHIR_JSON)


def _observation_problem(resource: Any, patients: dict[str, Any]) -> tuple[str, str] | None:
    """What a FHIR server refuses in a vital-sign Observation: (situation, diagnostics)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        return "structure", "The body is not an Observation resource."
    for element in ("status", "category", "code", "subject", "effectiveDateTime"):
        if not resource.get(element):
            return "required-element", f"Required element {element} is missing."
    if resource["status"] not in ("registered", "preliminary", "final", "amended"):
        return "invalid-element", "Required element status is invalid."
    if not any(_token_matches(c, "vital-signs") for c in resource["category"]):
        return "invalid-element", "Required element category is invalid (vital-signs expected)."
    if not _token_matches(resource["code"], f"http://loinc.org|{_loinc(resource)}"):
        return "invalid-element", "Required element code is invalid (a LOINC code expected)."
    reference = resource["subject"].get("reference", "")
    if reference.removeprefix("Patient/") not in patients:
        return "invalid-element", "Required element subject is invalid."
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return "required-element", "Required element valueQuantity.value is missing."
    if not quantity.get("unit"):
        return "required-element", "Required element valueQuantity.unit is missing."
    return None


def _loinc(resource: dict[str, Any]) -> str:
    codings = resource["code"].get("coding", []) if isinstance(resource["code"], dict) else []
    return next((c.get("code", "") for c in codings if c.get("system") == "http://loinc.org"), "")


def add_fhir_routes(
    routes: web.RouteTableDef, prefix: str, state: AppState, vendor: Vendor
) -> None:
    """Serve a FHIR R4 server below ``prefix + vendor.base``."""
    base = prefix + vendor.base
    state.data.setdefault("patients", {PATIENT_ID: PATIENT})
    state.data.setdefault("observations", [OBSERVATION])
    state.data.setdefault("throttle", None)  # a Retry-After value: answer 429 while set

    def refused(request: web.Request) -> web.Response | None:
        if not state.authorized(request):
            return outcome(
                vendor,
                401,
                "login",
                "The access token is missing, expired or not valid.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if state.data["throttle"] is not None:
            return outcome(
                vendor,
                429,
                "throttled",
                "Too many requests; try again later.",
                headers={"Retry-After": str(state.data["throttle"])},
            )
        return None

    @routes.get(base + "/.well-known/smart-configuration")
    async def smart_configuration(request: web.Request) -> web.Response:
        await state.record(request)
        oauth = f"{request.url.origin()}/{state.slug}/oauth"
        return web.json_response(
            {
                "issuer": oauth,
                "authorization_endpoint": f"{oauth}/authorize",
                "token_endpoint": f"{oauth}/token",
                "token_endpoint_auth_methods_supported": list(vendor.token_auth_methods),
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "scopes_supported": ["openid", "fhirUser", "launch/patient", "offline_access"],
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": [
                    "launch-standalone",
                    "client-confidential-symmetric",
                    "context-standalone-patient",
                    "permission-offline",
                    "permission-patient",
                    "permission-v1",
                    "permission-v2",
                    "sso-openid-connect",
                ],
            }
        )

    @routes.get(base + "/Patient/{id}")
    async def read_patient(request: web.Request) -> web.Response:
        await state.record(request)
        if (refusal := refused(request)) is not None:
            return refusal
        patient = state.data["patients"].get(request.match_info["id"])
        if patient is None:
            return outcome(
                vendor,
                404,
                "not-found",
                f"Resource Patient/{request.match_info['id']} is not known.",
                situation="invalid-id",
            )
        return web.json_response(patient, content_type=FHIR_JSON)

    @routes.get(base + "/Patient")
    async def search_patients(request: web.Request) -> web.Response:
        await state.record(request)
        if (refusal := refused(request)) is not None:
            return refusal
        if not set(request.query) - {"_count"}:
            return outcome(
                vendor,
                400,
                "required",
                "No parameters are provided in the search request.",
                situation="no-params",
            )
        found = [p for p in state.data["patients"].values() if _patient_matches(p, request)]
        return _bundle(vendor, request, found[: int(request.query.get("_count", "100"))])

    @routes.get(base + "/Observation")
    async def search_observations(request: web.Request) -> web.Response:
        await state.record(request)
        if (refusal := refused(request)) is not None:
            return refusal
        patient = request.query.get("patient")
        if not patient:
            return outcome(
                vendor,
                400,
                "required",
                "Required search parameter patient is missing.",
                situation="missing-param",
            )
        if vendor.observation_needs_category_or_code and not (
            "category" in request.query or "code" in request.query
        ):
            return outcome(
                vendor,
                400,
                "required",
                "Required search parameter category or code is missing.",
                situation="missing-param",
            )
        found = [
            o
            for o in state.data["observations"]
            if o["subject"]["reference"] == f"Patient/{patient}"
            and all(
                any(_token_matches(c, v) for c in o.get("category", []))
                for v in request.query.getall("category", [])
            )
            and all(_token_matches(o["code"], v) for v in request.query.getall("code", []))
            and all(
                _date_matches(o.get("effectiveDateTime", ""), v)
                for v in request.query.getall("date", [])
            )
        ]
        return _bundle(vendor, request, found[: int(request.query.get("_count", "1000"))])

    @routes.post(base + "/{resource_type}")
    async def create(request: web.Request) -> web.Response:
        await state.record(request)
        if (refusal := refused(request)) is not None:
            return refusal
        resource_type = request.match_info["resource_type"]
        if resource_type not in vendor.creates:
            return outcome(
                vendor, 405, "not-supported", f"Create is not supported for {resource_type}."
            )
        if request.content_type not in (FHIR_JSON, "application/json"):
            return outcome(vendor, 415, "not-supported", f"{request.content_type} is not FHIR.")
        try:
            resource = json.loads(await request.text())
        except ValueError:
            return outcome(vendor, 400, "structure", "Invalid JSON.", situation="structure")
        if (problem := _observation_problem(resource, state.data["patients"])) is not None:
            situation, diagnostics = problem
            return outcome(vendor, 400, "invalid", diagnostics, situation=situation)
        created = {**resource, "id": secrets.token_urlsafe(12).replace("_", "x").replace("-", "y")}
        state.data["observations"].append(created)
        location = f"{request.url.origin()}{base}/Observation/{created['id']}"
        for name, value in request.match_info.items():
            location = location.replace("{" + name + "}", value)
        return web.Response(status=201, headers={"Location": location})
