"""The EMR apps (Epic, Oracle Health, athenahealth) act on a SMART on FHIR connection: each
action calls its vendor's FHIR R4 endpoint (a local fake speaking the vendor's protocol,
tests/fakes/apps) with the connection's bearer token and FHIR media types, returns the
resources, and turns the server's OperationOutcome into an ActionError naming its
diagnostics. The catalog entries carry the SMART quirks the OAuth flow relies on."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from shared.connectors.apps.epic import CreateObservationInput
from shared.connectors.catalog import load_catalog
from shared.connectors.fhir import (
    ReadPatientInput,
    SearchObservationsInput,
    SearchPatientsInput,
)
from shared.infra.outbound import OutboundClient
from tests.app_fixtures import (
    Connect,
    action_failure,
    app_of,
    connector,
    input_rejection,
    only_call,
    refused_failure,
    run_action,
    start_app_apis,
)
from tests.fakes.apps import AppApis
from tests.fakes.apps import athenahealth as fake_athenahealth
from tests.fakes.apps import cerner as fake_cerner
from tests.fakes.apps import epic as fake_epic
from tests.fakes.apps._fhir import OBSERVATION, PATIENT, PATIENT_ID
from tests.fakes.server import StartFake

TOKEN = "emr-access-token"
FHIR_BASES = {
    "epic": fake_epic.FHIR_BASE,
    "cerner": fake_cerner.FHIR_BASE,
    "athenahealth": fake_athenahealth.FHIR_BASE,
}
SLUGS = list(FHIR_BASES)
FHIR_JSON = "application/fhir+json"


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """The three vendors' FHIR servers, each accepting TOKEN."""
    return await start_app_apis(start_fake, slugs=SLUGS, credentials=[TOKEN])


@pytest.fixture
def connect(apis: AppApis, loopback_allowed: OutboundClient) -> Connect:
    """SMART connections holding TOKEN: each one's FHIR base is its fake's and its launch chose
    PATIENT (the token answer's ``patient``)."""
    fields = {
        slug: {"fhir_base_url": apis.api_url(slug) + base, "patient_id": PATIENT_ID}
        for slug, base in FHIR_BASES.items()
    }
    return connector(apis=apis, client=loopback_allowed, token=TOKEN, fields=fields)


def test_each_emr_app_is_a_smart_on_fhir_catalog_entry() -> None:
    catalog = load_catalog()
    for slug in SLUGS:
        app = catalog.get(slug)
        assert app is not None
        assert app.oauth is not None
        assert app.auth_kind == "oauth2"
        assert app.default_enabled == []
        assert app.api_base_url == "{fhir_base_url}"
        assert [(f.key, f.type) for f in app.fields] == [("fhir_base_url", "url")]
        assert app.oauth.smart_discovery is True
        assert app.oauth.pkce is True
        assert app.oauth.authorization_params == {"aud": "{fhir_base_url}"}
        assert app.oauth.token_fields == {"patient_id": "patient"}
        assert app.oauth.token_auth == "client_secret_basic"
        assert {"launch/patient", "openid", "fhirUser", "offline_access"} <= set(app.oauth.scopes)
        assert app.oauth.authorize_url.startswith("https://")
        assert app.oauth.token_url.startswith("https://")
    cerner = catalog.get("cerner")
    assert cerner is not None
    assert cerner.oauth is not None
    assert "/personas/patient/authorize" in cerner.oauth.authorize_url
    assert "/hosts/fhir-myrecord.cerner.com/" in cerner.oauth.token_url


@pytest.mark.parametrize("slug", SLUGS)
async def test_the_fhir_server_publishes_its_smart_configuration(
    apis: AppApis, loopback_allowed: OutboundClient, slug: str
) -> None:
    url = apis.api_url(slug) + FHIR_BASES[slug] + "/.well-known/smart-configuration"
    reply = await loopback_allowed.request("GET", url)
    assert reply.status == 200
    config = json.loads(reply.body)
    assert config["authorization_endpoint"] == f"{apis.url}/{slug}/oauth/authorize"
    assert config["token_endpoint"] == f"{apis.url}/{slug}/oauth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-standalone", "context-standalone-patient"} <= set(config["capabilities"])
    assert "client_secret_basic" in config["token_endpoint_auth_methods_supported"]


@pytest.mark.parametrize("slug", SLUGS)
async def test_read_patient_reads_the_connections_patient_by_default(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    patient = await run_action(
        f"{slug}.read_patient",
        ctx=connect(slug),
        given={},
    )
    assert patient == PATIENT
    call = only_call(apis.apps[slug], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", f"{FHIR_BASES[slug]}/Patient/{PATIENT_ID}")
    assert call.headers["Accept"] == FHIR_JSON


@pytest.mark.parametrize("slug", SLUGS)
async def test_read_patient_reads_the_patient_named(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    other = {**PATIENT, "id": "other-patient-1", "name": [{"family": "Ng", "given": ["Li"]}]}
    apis.apps[slug].data["patients"][other["id"]] = other
    assert await run_action(
        f"{slug}.read_patient",
        ctx=connect(slug),
        given={"id": other["id"]},
    ) == (other)
    assert only_call(apis.apps[slug]).path == f"{FHIR_BASES[slug]}/Patient/other-patient-1"


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_patients_sends_fhir_search_parameters_and_returns_the_entries(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    apis.apps[slug].data["patients"]["p2"] = {
        **PATIENT,
        "id": "p2",
        "name": [{"family": "Lopez", "given": ["Ana"]}],
        "birthDate": "1990-01-01",
    }
    found = await run_action(
        f"{slug}.search_patients",
        ctx=connect(slug),
        given={"family": "lopez", "given": "Camila", "birthdate": "1987-09-12", "count": 10},
    )
    assert found["entries"] == [PATIENT]
    assert found["total"] == 1
    call = only_call(apis.apps[slug])
    assert (call.method, call.path) == ("GET", f"{FHIR_BASES[slug]}/Patient")
    assert call.query == {
        "family": "lopez",
        "given": "Camila",
        "birthdate": "1987-09-12",
        "_count": "10",
    }
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Accept"] == FHIR_JSON


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_patients_by_identifier(apis: AppApis, connect: Connect, slug: str) -> None:
    (identifier,) = PATIENT["identifier"]
    token = f"{identifier['system']}|{identifier['value']}"
    found = await run_action(
        f"{slug}.search_patients",
        ctx=connect(slug),
        given={"identifier": token},
    )
    assert [p["id"] for p in found["entries"]] == [PATIENT_ID]
    assert only_call(apis.apps[slug]).query == {"identifier": token}
    nobody = await run_action(
        f"{slug}.search_patients",
        ctx=connect(slug),
        given={"identifier": "no-such-mrn"},
    )
    # Epic adds an OperationOutcome entry (4101, no results): not a patient.
    assert nobody["entries"] == []


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_observations_filters_by_patient_category_and_a_date_range(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    later = {**OBSERVATION, "id": "obs-later", "effectiveDateTime": "2024-05-01T08:00:00Z"}
    lab = {
        **OBSERVATION,
        "id": "obs-lab",
        "category": [{"coding": [{"code": "laboratory"}]}],
    }
    apis.apps[slug].data["observations"] += [later, lab]
    found = await run_action(
        f"{slug}.search_observations",
        ctx=connect(slug),
        given={"category": "vital-signs", "date": ["ge2024-03-01", "lt2024-04-01"]},
    )
    # Only the March vital sign: the lab is another category, the May one past the second bound.
    assert found["entries"] == [OBSERVATION]
    call = only_call(apis.apps[slug], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", f"{FHIR_BASES[slug]}/Observation")
    assert call.query["patient"] == PATIENT_ID  # the connection's patient
    assert call.query["category"] == "vital-signs"


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_observations_by_code_for_a_named_patient(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    found = await run_action(
        f"{slug}.search_observations",
        ctx=connect(slug),
        given={"patient": PATIENT_ID, "code": "http://loinc.org|8867-4"},
    )
    assert [o["id"] for o in found["entries"]] == [OBSERVATION["id"]]
    assert only_call(apis.apps[slug]).query == {
        "patient": PATIENT_ID,
        "code": "http://loinc.org|8867-4",
    }


async def test_epic_create_observation_files_a_vital_sign(apis: AppApis, connect: Connect) -> None:
    ctx = connect("epic")
    created = await run_action(
        "epic.create_observation",
        ctx=ctx,
        given={
            "code": "29463-7",
            "display": "Body weight",
            "value": {"value": 71.5, "unit": "kg"},
            "effective": "2024-03-06T09:15:00+01:00",
        },
    )
    call = only_call(apis.apps["epic"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", f"{fake_epic.FHIR_BASE}/Observation")
    assert call.headers["Content-Type"] == FHIR_JSON
    assert call.headers["Accept"] == FHIR_JSON
    assert json.loads(call.body) == {
        "resourceType": "Observation",
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
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2024-03-06T09:15:00+01:00",
        "valueQuantity": {
            "value": 71.5,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "kg",
        },
    }
    # Epic answers 201 with only a Location: the action reads the new id from it.
    assert created["resourceType"] == "Observation"
    assert (
        created["location"]
        == f"{apis.api_url('epic')}{fake_epic.FHIR_BASE}/Observation/" + (created["id"])
    )
    weights = await run_action(
        "epic.search_observations", ctx=ctx, given={"code": "http://loinc.org|29463-7"}
    )
    assert [o["id"] for o in weights["entries"]] == [created["id"]]


async def test_epic_refuses_an_observation_for_an_unknown_patient_with_its_diagnostics(
    connect: Connect,
) -> None:
    failed = await action_failure(
        "epic.create_observation",
        ctx=connect("epic"),
        given={
            "patient": "not-a-patient",
            "code": "8867-4",
            "value": {"value": 60, "unit": "/min"},
            "effective": "2024-03-06T09:15:00Z",
        },
    )
    assert failed.kind == "fatal"
    assert failed.status == 400
    assert "Required element subject is invalid." in str(failed)


async def test_epic_refuses_an_observation_search_without_category_or_code(
    connect: Connect,
) -> None:
    failed = await action_failure(
        "epic.search_observations",
        ctx=connect("epic"),
        given={},
    )
    assert failed.kind == "fatal"
    assert failed.status == 400
    assert "Required search parameter category or code is missing." in str(failed)


@pytest.mark.parametrize("slug", ["cerner", "athenahealth"])
async def test_other_vendors_search_a_patients_observations_without_a_category(
    connect: Connect, slug: str
) -> None:
    found = await run_action(
        f"{slug}.search_observations",
        ctx=connect(slug),
        given={},
    )
    assert [o["id"] for o in found["entries"]] == [OBSERVATION["id"]]


@pytest.mark.parametrize("slug", SLUGS)
async def test_an_unknown_token_is_unauthorized(connect: Connect, slug: str) -> None:
    await refused_failure(f"{slug}.read_patient", connect=connect, token="revoked", given={})


@pytest.mark.parametrize("slug", SLUGS)
async def test_an_unknown_patient_is_a_fatal_error_naming_the_outcome(
    connect: Connect, slug: str
) -> None:
    failed = await action_failure(
        f"{slug}.read_patient",
        ctx=connect(slug),
        given={"id": "nobody"},
    )
    assert failed.kind == "fatal"
    assert failed.status == 404
    assert "Resource Patient/nobody is not known." in str(failed)


@pytest.mark.parametrize("slug", SLUGS)
async def test_throttling_is_retryable_after_the_servers_delay(
    apis: AppApis, connect: Connect, slug: str
) -> None:
    apis.apps[slug].data["throttle"] = 30
    failed = await action_failure(
        f"{slug}.search_patients",
        ctx=connect(slug),
        given={"family": "Lopez"},
    )
    assert failed.kind == "retryable"
    assert failed.status == 429
    assert failed.retry_after == 30.0


@pytest.mark.parametrize(
    ("name", "patient_id", "given", "says"),
    [
        ("cerner.read_patient", None, {}, "no patient context"),
        ("epic.read_patient", "../Practitioner/1", {}, "not a FHIR id"),
        ("athenahealth.search_patients", PATIENT_ID, {}, "needs a name, birthdate or identifier"),
    ],
)
async def test_an_action_refuses_before_any_call(
    apis: AppApis,
    connect: Connect,
    name: str,
    patient_id: str | None,
    given: dict[str, Any],
    says: str,
) -> None:
    """No patient on the connection, a patient id from the token answer that is not a FHIR
    id, an empty patient search: each refused without calling the server."""
    slug = app_of(name)
    ctx = connect(slug)
    patient = {} if patient_id is None else {"patient_id": patient_id}
    ctx = replace(ctx, fields={"fhir_base_url": ctx.fields["fhir_base_url"], **patient})
    failed = await action_failure(name, ctx=ctx, given=given)
    assert says in str(failed)
    assert apis.apps[slug].calls == []


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (ReadPatientInput, {"id": "not/an id"}, "id"),
        (ReadPatientInput, {"id": ".."}, "id"),
        (ReadPatientInput, {"patient_id": "x"}, "patient_id"),
        (SearchPatientsInput, {"birthdate": "12/09/1987"}, "birthdate"),
        (SearchPatientsInput, {"family": "Lopez", "count": 0}, "count"),
        (SearchPatientsInput, {"name": "Lopez"}, "name"),
        (SearchObservationsInput, {"date": ["last week"]}, "date.0"),
        (SearchObservationsInput, {"date": ["ge2024", "le2025", "eq2026"]}, "date"),
        (SearchObservationsInput, {"category": "vital signs"}, "category"),
        (
            CreateObservationInput,
            {"code": "weight", "value": {"value": 1, "unit": "kg"}, "effective": "2024-03-06"},
            "code",
        ),
        (
            CreateObservationInput,
            {
                "code": "29463-7",
                "value": {"value": 1, "unit": "kg"},
                "effective": "2024-03-06T09:15:00",
            },
            "effective",
        ),
        (
            CreateObservationInput,
            {"code": "29463-7", "value": {"value": 1}, "effective": "2024-03-06T09:15:00Z"},
            "value.unit",
        ),
    ],
)
def test_input_models_reject_bad_input_naming_the_field(
    model: type[BaseModel], data: dict[str, Any], field: str
) -> None:
    failed = input_rejection(model, given=data)
    assert field in {".".join(str(part) for part in error["loc"]) for error in failed.errors()}
