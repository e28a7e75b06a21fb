"""The EMR apps (Epic, Oracle Health, athenahealth) act on a SMART on FHIR connection: each
action calls its vendor's FHIR R4 endpoint (a local fake speaking the vendor's protocol,
tests/fakes/apps) with the connection's bearer token and FHIR media types, returns the
resources, and turns the server's OperationOutcome into an ActionError naming its
diagnostics. The catalog entries carry the SMART quirks the OAuth flow relies on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.connectors import ACTIONS
from shared.connectors.apps.epic import CreateObservationInput
from shared.connectors.base import ActionContext, ActionError
from shared.connectors.catalog import fill, load_catalog
from shared.connectors.fhir import (
    ReadPatientInput,
    SearchObservationsInput,
    SearchPatientsInput,
)
from shared.infra.outbound import OutboundClient, parse_networks
from tests.fakes.apps import AppApis, AppState
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
    fake = await start_fake(AppApis(SLUGS))
    for state in fake.apps.values():
        state.valid_credentials.add(TOKEN)
    return fake


@pytest.fixture
async def client() -> AsyncIterator[OutboundClient]:
    """An outbound client allowed to reach the loopback fakes."""
    outbound = OutboundClient(
        allowed=parse_networks("127.0.0.0/8"), timeout=5.0, max_bytes=1_000_000
    )
    yield outbound
    await outbound.close()


def context(
    apis: AppApis, client: OutboundClient, slug: str, *, token: str = TOKEN
) -> ActionContext:
    """A connection to ``slug`` whose FHIR base is the fake's and whose SMART launch chose
    PATIENT (the token answer's ``patient``)."""
    fhir_base_url = apis.api_url(slug) + FHIR_BASES[slug]
    app = load_catalog().get(slug)
    assert app is not None
    assert app.api_base_url is not None
    fields = {"fhir_base_url": fhir_base_url, "patient_id": PATIENT_ID}
    return ActionContext(
        credentials={"access_token": token},
        api_base_url=fill(app.api_base_url, base_url="http://linkport.invalid", fields=fields),
        idempotency_key="step-key-1",
        client=client,
        app=app,
        fields=fields,
    )


async def run(ctx: ActionContext, name: str, data: dict[str, Any]) -> Any:
    """Run the action ``name`` with ``data`` as its input."""
    action = ACTIONS[name]
    return await action.run(ctx, action.input_model.model_validate(data))


def only_call(state: AppState) -> Any:
    """The one API call the fake received."""
    assert len(state.calls) == 1, state.calls
    return state.calls[0]


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
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    url = apis.api_url(slug) + FHIR_BASES[slug] + "/.well-known/smart-configuration"
    reply = await client.request("GET", url)
    assert reply.status == 200
    config = json.loads(reply.body)
    assert config["authorization_endpoint"] == f"{apis.url}/{slug}/oauth/authorize"
    assert config["token_endpoint"] == f"{apis.url}/{slug}/oauth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-standalone", "context-standalone-patient"} <= set(config["capabilities"])
    assert "client_secret_basic" in config["token_endpoint_auth_methods_supported"]


@pytest.mark.parametrize("slug", SLUGS)
async def test_read_patient_reads_the_connections_patient_by_default(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    patient = await run(context(apis, client, slug), f"{slug}.read_patient", {})
    assert patient == PATIENT
    call = only_call(apis.apps[slug])
    assert (call.method, call.path) == ("GET", f"{FHIR_BASES[slug]}/Patient/{PATIENT_ID}")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Accept"] == FHIR_JSON


@pytest.mark.parametrize("slug", SLUGS)
async def test_read_patient_reads_the_patient_named(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    other = {**PATIENT, "id": "other-patient-1", "name": [{"family": "Ng", "given": ["Li"]}]}
    apis.apps[slug].data["patients"][other["id"]] = other
    assert await run(context(apis, client, slug), f"{slug}.read_patient", {"id": other["id"]}) == (
        other
    )
    assert only_call(apis.apps[slug]).path == f"{FHIR_BASES[slug]}/Patient/other-patient-1"


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_patients_sends_fhir_search_parameters_and_returns_the_entries(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    apis.apps[slug].data["patients"]["p2"] = {
        **PATIENT,
        "id": "p2",
        "name": [{"family": "Lopez", "given": ["Ana"]}],
        "birthDate": "1990-01-01",
    }
    found = await run(
        context(apis, client, slug),
        f"{slug}.search_patients",
        {"family": "lopez", "given": "Camila", "birthdate": "1987-09-12", "count": 10},
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
async def test_search_patients_by_identifier(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    (identifier,) = PATIENT["identifier"]
    token = f"{identifier['system']}|{identifier['value']}"
    found = await run(context(apis, client, slug), f"{slug}.search_patients", {"identifier": token})
    assert [p["id"] for p in found["entries"]] == [PATIENT_ID]
    assert only_call(apis.apps[slug]).query == {"identifier": token}
    nobody = await run(
        context(apis, client, slug), f"{slug}.search_patients", {"identifier": "no-such-mrn"}
    )
    # Epic adds an OperationOutcome entry (4101, no results): not a patient.
    assert nobody["entries"] == []


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_observations_filters_by_patient_category_and_a_date_range(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    later = {**OBSERVATION, "id": "obs-later", "effectiveDateTime": "2024-05-01T08:00:00Z"}
    lab = {
        **OBSERVATION,
        "id": "obs-lab",
        "category": [{"coding": [{"code": "laboratory"}]}],
    }
    apis.apps[slug].data["observations"] += [later, lab]
    found = await run(
        context(apis, client, slug),
        f"{slug}.search_observations",
        {"category": "vital-signs", "date": ["ge2024-03-01", "lt2024-04-01"]},
    )
    # Only the March vital sign: the lab is another category, the May one past the second bound.
    assert found["entries"] == [OBSERVATION]
    call = only_call(apis.apps[slug])
    assert (call.method, call.path) == ("GET", f"{FHIR_BASES[slug]}/Observation")
    assert call.query["patient"] == PATIENT_ID  # the connection's patient
    assert call.query["category"] == "vital-signs"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("slug", SLUGS)
async def test_search_observations_by_code_for_a_named_patient(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    found = await run(
        context(apis, client, slug),
        f"{slug}.search_observations",
        {"patient": PATIENT_ID, "code": "http://loinc.org|8867-4"},
    )
    assert [o["id"] for o in found["entries"]] == [OBSERVATION["id"]]
    assert only_call(apis.apps[slug]).query == {
        "patient": PATIENT_ID,
        "code": "http://loinc.org|8867-4",
    }


async def test_epic_create_observation_files_a_vital_sign(
    apis: AppApis, client: OutboundClient
) -> None:
    ctx = context(apis, client, "epic")
    created = await run(
        ctx,
        "epic.create_observation",
        {
            "code": "29463-7",
            "display": "Body weight",
            "value": {"value": 71.5, "unit": "kg"},
            "effective": "2024-03-06T09:15:00+01:00",
        },
    )
    call = only_call(apis.apps["epic"])
    assert (call.method, call.path) == ("POST", f"{fake_epic.FHIR_BASE}/Observation")
    assert call.headers["Content-Type"] == FHIR_JSON
    assert call.headers["Accept"] == FHIR_JSON
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
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
    weights = await run(ctx, "epic.search_observations", {"code": "http://loinc.org|29463-7"})
    assert [o["id"] for o in weights["entries"]] == [created["id"]]


async def test_epic_refuses_an_observation_for_an_unknown_patient_with_its_diagnostics(
    apis: AppApis, client: OutboundClient
) -> None:
    with pytest.raises(ActionError) as failed:
        await run(
            context(apis, client, "epic"),
            "epic.create_observation",
            {
                "patient": "not-a-patient",
                "code": "8867-4",
                "value": {"value": 60, "unit": "/min"},
                "effective": "2024-03-06T09:15:00Z",
            },
        )
    assert failed.value.kind == "fatal"
    assert failed.value.status == 400
    assert "Required element subject is invalid." in str(failed.value)


async def test_epic_refuses_an_observation_search_without_category_or_code(
    apis: AppApis, client: OutboundClient
) -> None:
    with pytest.raises(ActionError) as failed:
        await run(context(apis, client, "epic"), "epic.search_observations", {})
    assert failed.value.kind == "fatal"
    assert failed.value.status == 400
    assert "Required search parameter category or code is missing." in str(failed.value)


@pytest.mark.parametrize("slug", ["cerner", "athenahealth"])
async def test_other_vendors_search_a_patients_observations_without_a_category(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    found = await run(context(apis, client, slug), f"{slug}.search_observations", {})
    assert [o["id"] for o in found["entries"]] == [OBSERVATION["id"]]


@pytest.mark.parametrize("slug", SLUGS)
async def test_an_unknown_token_is_unauthorized(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    with pytest.raises(ActionError) as failed:
        await run(context(apis, client, slug, token="revoked"), f"{slug}.read_patient", {})
    assert failed.value.kind == "unauthorized"
    assert failed.value.status == 401
    assert "revoked" not in str(failed.value)


@pytest.mark.parametrize("slug", SLUGS)
async def test_an_unknown_patient_is_a_fatal_error_naming_the_outcome(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    with pytest.raises(ActionError) as failed:
        await run(context(apis, client, slug), f"{slug}.read_patient", {"id": "nobody"})
    assert failed.value.kind == "fatal"
    assert failed.value.status == 404
    assert "Resource Patient/nobody is not known." in str(failed.value)


@pytest.mark.parametrize("slug", SLUGS)
async def test_throttling_is_retryable_after_the_servers_delay(
    apis: AppApis, client: OutboundClient, slug: str
) -> None:
    apis.apps[slug].data["throttle"] = 30
    with pytest.raises(ActionError) as failed:
        await run(context(apis, client, slug), f"{slug}.search_patients", {"family": "Lopez"})
    assert failed.value.kind == "retryable"
    assert failed.value.status == 429
    assert failed.value.retry_after == 30.0


async def test_an_action_needs_a_patient_when_the_connection_has_none(
    apis: AppApis, client: OutboundClient
) -> None:
    ctx = context(apis, client, "cerner")
    no_patient = ActionContext(
        credentials=ctx.credentials,
        api_base_url=ctx.api_base_url,
        idempotency_key=ctx.idempotency_key,
        client=client,
        app=ctx.app,
        fields={"fhir_base_url": ctx.fields["fhir_base_url"]},
    )
    with pytest.raises(ActionError, match="no patient context"):
        await run(no_patient, "cerner.read_patient", {})
    assert apis.apps["cerner"].calls == []


async def test_a_patient_id_from_the_token_answer_must_be_a_fhir_id(
    apis: AppApis, client: OutboundClient
) -> None:
    ctx = context(apis, client, "epic")
    odd = ActionContext(
        credentials=ctx.credentials,
        api_base_url=ctx.api_base_url,
        idempotency_key=ctx.idempotency_key,
        client=client,
        app=ctx.app,
        fields={**ctx.fields, "patient_id": "../Practitioner/1"},
    )
    with pytest.raises(ActionError, match="not a FHIR id"):
        await run(odd, "epic.read_patient", {})
    assert apis.apps["epic"].calls == []


async def test_an_empty_patient_search_is_refused_before_any_call(
    apis: AppApis, client: OutboundClient
) -> None:
    with pytest.raises(ActionError, match="needs a name, birthdate or identifier"):
        await run(context(apis, client, "athenahealth"), "athenahealth.search_patients", {})
    assert apis.apps["athenahealth"].calls == []


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
    with pytest.raises(ValidationError) as failed:
        model.model_validate(data)
    assert field in {
        ".".join(str(part) for part in error["loc"]) for error in failed.value.errors()
    }
