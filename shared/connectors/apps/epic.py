"""Epic (SMART on FHIR R4): patients, observations, and filing a vital sign.

Epic's write surface is narrow: ``Observation.Create (Vitals)`` files a reading into a
flowsheet row the organisation has mapped to the LOINC code sent, and Epic answers
``201 Created`` with only a ``Location`` (https://fhir.epic.com/Specifications,
Observation.Create (Vitals) R4)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.connectors import fhir
from shared.connectors.base import Action, ActionContext

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


class CreateObservationInput(BaseModel):
    """A vital sign to file in the patient's chart."""

    model_config = ConfigDict(extra="forbid")

    patient: str | None = Field(
        default=None,
        pattern=fhir.FHIR_ID,
        description="The Patient's FHIR id; the connection's patient when left out.",
    )
    code: str = Field(
        pattern=r"^\d{1,7}-\d$",
        description="The vital sign's LOINC code, e.g. '29463-7' (body weight).",
    )
    display: str | None = Field(
        default=None, max_length=200, description="The code's name, e.g. 'Body weight'."
    )
    value: fhir.Quantity = Field(description="The reading and its UCUM unit.")
    effective: AwareDatetime = Field(description="When it was measured (with a time zone).")


def observation_resource(patient: str, data: CreateObservationInput) -> dict[str, Any]:
    """The FHIR Observation Epic files as a vital sign."""
    coding: dict[str, Any] = {"system": LOINC, "code": data.code}
    if data.display:
        coding["display"] = data.display
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]},
        ],
        "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": data.effective.isoformat(),
        "valueQuantity": {
            "value": data.value.value,
            "unit": data.value.unit,
            "system": UCUM,
            "code": data.value.unit,
        },
    }


async def _create_observation(ctx: ActionContext, data: CreateObservationInput) -> Any:
    patient = fhir.connection_patient(ctx, data.patient)
    return await fhir.create(ctx, observation_resource(patient, data))


ACTIONS: tuple[Action, ...] = (
    *fhir.read_actions("epic", "Epic"),
    Action(
        "epic.create_observation",
        "epic",
        CreateObservationInput,
        _create_observation,
        "File a vital sign (weight, heart rate…) in an Epic patient's chart",
    ),
)
