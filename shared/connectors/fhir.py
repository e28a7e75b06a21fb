"""FHIR R4 over a SMART on FHIR connection: what the EMR apps (Epic, Oracle Health,
athenahealth) share. Each app module keeps its own actions; this module holds the common
input models, the calls (read, search, create) and the reading of ``OperationOutcome``
errors, so an EMR app module is its names and its vendor's quirks.

Requests ask for ``application/fhir+json`` and writes send it (FHIR R4 §3.1.0.1.8);
a search answers a ``Bundle`` whose ``entry[].resource`` are the matches (§3.1.1.4)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.connectors.base import Action, ActionContext, ActionError, result_of
from shared.infra.outbound import OutboundResponse

FHIR_JSON = "application/fhir+json"
# The connection field SMART's token answer fills (``patient`` launch context).
PATIENT_FIELD = "patient_id"
# FHIR ids: up to 64 of [A-Za-z0-9\-\.] (R4 datatypes, id), here starting with a letter or
# digit so that no id reads as a path segment like "..".
FHIR_ID = r"^[A-Za-z0-9][A-Za-z0-9\-.]{0,63}$"
# A FHIR date or dateTime search value with an optional comparison prefix (R4 §3.1.1.5.7).
DATE_SEARCH = r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?\d{4}(-\d{2}(-\d{2}(T[0-9:.+\-Z]+)?)?)?$"
# token search: [system|]code (R4 §3.1.1.5.6).
TOKEN_SEARCH = r"^[^\s|]*\|?[^\s|]+$"
_FHIR_ID = re.compile(FHIR_ID)


class ReadPatientInput(BaseModel):
    """The patient to read: its FHIR id, by default the connection's patient."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        pattern=FHIR_ID,
        description="The Patient's FHIR id; the connection's patient when left out.",
    )


class SearchPatientsInput(BaseModel):
    """FHIR Patient search parameters (at least one)."""

    model_config = ConfigDict(extra="forbid")

    family: str | None = Field(
        default=None, min_length=1, max_length=100, description="Family (last) name."
    )
    given: str | None = Field(
        default=None, min_length=1, max_length=100, description="Given (first) name."
    )
    birthdate: str | None = Field(
        default=None,
        pattern=DATE_SEARCH,
        description="Birth date, YYYY-MM-DD (an eq/ge/le… prefix allowed).",
    )
    identifier: str | None = Field(
        default=None,
        max_length=200,
        pattern=TOKEN_SEARCH,
        description="An identifier, as 'system|value' or a bare value (e.g. an MRN).",
    )
    count: int | None = Field(
        default=None, ge=1, le=100, description="At most this many patients (FHIR _count)."
    )

    def search_params(self) -> list[tuple[str, str]]:
        """The FHIR search query; refuses an empty search (it would list everyone)."""
        params = [
            (name, value)
            for name, value in (
                ("family", self.family),
                ("given", self.given),
                ("birthdate", self.birthdate),
                ("identifier", self.identifier),
            )
            if value is not None
        ]
        if not params:
            raise ActionError("fatal", "a patient search needs a name, birthdate or identifier")
        if self.count is not None:
            params.append(("_count", str(self.count)))
        return params


class SearchObservationsInput(BaseModel):
    """A patient's observations, narrowed by category, code and date."""

    model_config = ConfigDict(extra="forbid")

    patient: str | None = Field(
        default=None,
        pattern=FHIR_ID,
        description="The Patient's FHIR id; the connection's patient when left out.",
    )
    category: str | None = Field(
        default=None,
        max_length=200,
        pattern=TOKEN_SEARCH,
        description="Observation category, e.g. 'vital-signs' or 'laboratory'.",
    )
    code: str | None = Field(
        default=None,
        max_length=200,
        pattern=TOKEN_SEARCH,
        description="Observation code, e.g. 'http://loinc.org|8867-4' (heart rate).",
    )
    date: list[Annotated[str, StringConstraints(pattern=DATE_SEARCH)]] = Field(
        default_factory=list,
        max_length=2,
        description="Date bounds with prefixes, e.g. ['ge2024-01-01', 'lt2024-02-01'].",
    )
    count: int | None = Field(
        default=None, ge=1, le=1000, description="At most this many per page (FHIR _count)."
    )


class Quantity(BaseModel):
    """A measured value with its UCUM unit."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(description="The measured value.")
    unit: str = Field(min_length=1, max_length=50, description="UCUM unit, e.g. 'kg' or '/min'.")


def connection_patient(ctx: ActionContext, given: str | None) -> str:
    """The patient an action is about: the one named, else the connection's SMART patient."""
    patient = given or ctx.fields.get(PATIENT_FIELD)
    if not patient:
        raise ActionError("fatal", "no patient given and the connection has no patient context")
    # The connection's id came from the token answer: checked before it goes in a path.
    if not _FHIR_ID.fullmatch(patient):
        raise ActionError("fatal", "the connection's patient id is not a FHIR id")
    return patient


def outcome_text(body: Any) -> str | None:
    """The human-readable part of an ``OperationOutcome``: each issue's diagnostics (or its
    details' text, or its code), joined; None when the body is not one."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    texts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        detail_text = details.get("text") if isinstance(details, dict) else None
        text = issue.get("diagnostics") or detail_text or issue.get("code")
        if text:
            texts.append(str(text))
    return "; ".join(texts) or None


def fhir_result(response: OutboundResponse) -> Any:
    """The parsed FHIR answer, or the ActionError its status means, told with the
    ``OperationOutcome``'s diagnostics when the server sent one."""
    try:
        return result_of(response)
    except ActionError as error:
        try:
            text = outcome_text(orjson.loads(response.body)) if response.body else None
        except orjson.JSONDecodeError:
            text = None
        if text is None:
            raise
        raise ActionError(
            error.kind,
            f"the FHIR server refused the call ({response.status}): {text[:500]}",
            status=error.status,
            retry_after=error.retry_after,
        ) from None


async def read(ctx: ActionContext, resource_type: str, resource_id: str) -> Any:
    """``GET [base]/[type]/[id]``: the resource."""
    response = await ctx.call_api(
        "GET", f"/{resource_type}/{resource_id}", headers={"Accept": FHIR_JSON}
    )
    return fhir_result(response)


async def search(ctx: ActionContext, resource_type: str, params: Sequence[tuple[str, str]]) -> Any:
    """``GET [base]/[type]?params``: the matching resources (the searchset Bundle's entries
    in ``entries``, the Bundle's ``total`` and its next-page link when it has them).
    ``params`` are pairs: a name may repeat (``date=ge…&date=lt…`` is a range)."""
    response = await ctx.call_api(
        "GET", f"/{resource_type}?{urlencode(params)}", headers={"Accept": FHIR_JSON}
    )
    bundle = fhir_result(response)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ActionError("fatal", f"the FHIR server answered a {resource_type} search oddly")
    found = [
        entry["resource"]
        for entry in bundle.get("entry") or []
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        # Servers may add an OperationOutcome entry (search mode "outcome") with warnings.
        and entry["resource"].get("resourceType") == resource_type
    ]
    next_link = next(
        (link.get("url") for link in bundle.get("link") or [] if link.get("relation") == "next"),
        None,
    )
    return {"entries": found, "total": bundle.get("total"), "next": next_link}


async def create(ctx: ActionContext, resource: dict[str, Any]) -> Any:
    """``POST [base]/[type]``: the created resource as the server returned it, or (servers
    that answer 201 with only a ``Location``, as Epic does) its type, id and location."""
    resource_type = resource["resourceType"]
    response = await ctx.call_api(
        "POST",
        f"/{resource_type}",
        data=orjson.dumps(resource),
        headers={"Accept": FHIR_JSON, "Content-Type": FHIR_JSON},
    )
    created = fhir_result(response)
    if isinstance(created, dict) and created.get("resourceType") == resource_type:
        return created
    location = response.headers.get("Location") or response.headers.get("Content-Location")
    if not location:
        raise ActionError("fatal", f"the FHIR server created a {resource_type} but named none")
    # [base]/[type]/[id]/_history/[vid] (R4 §3.1.0.4.1): the id follows the type.
    parts = location.rstrip("/").split("/")
    index = max((i for i, part in enumerate(parts) if part == resource_type), default=-1)
    if index < 0 or index + 1 >= len(parts):
        raise ActionError("fatal", f"the FHIR server named an odd location: {location[:200]}")
    return {"resourceType": resource_type, "id": parts[index + 1], "location": location}


def observation_params(ctx: ActionContext, data: SearchObservationsInput) -> list[tuple[str, str]]:
    """The Observation search query (two ``date`` bounds make a range)."""
    params = [("patient", connection_patient(ctx, data.patient))]
    for name, value in (("category", data.category), ("code", data.code)):
        if value is not None:
            params.append((name, value))
    params += [("date", bound) for bound in data.date]
    if data.count is not None:
        params.append(("_count", str(data.count)))
    return params


async def _read_patient(ctx: ActionContext, data: ReadPatientInput) -> Any:
    return await read(ctx, "Patient", connection_patient(ctx, data.id))


async def _search_patients(ctx: ActionContext, data: SearchPatientsInput) -> Any:
    return await search(ctx, "Patient", data.search_params())


async def _search_observations(ctx: ActionContext, data: SearchObservationsInput) -> Any:
    return await search(ctx, "Observation", observation_params(ctx, data))


def read_actions(slug: str, vendor: str) -> tuple[Action, ...]:
    """The read actions every EMR app has: ``<slug>.read_patient``, ``.search_patients``,
    ``.search_observations``."""
    return (
        Action(
            f"{slug}.read_patient",
            slug,
            ReadPatientInput,
            _read_patient,
            f"Read a patient from {vendor} (by default the connected patient)",
        ),
        Action(
            f"{slug}.search_patients",
            slug,
            SearchPatientsInput,
            _search_patients,
            f"Search {vendor} patients by name, birth date or identifier",
        ),
        Action(
            f"{slug}.search_observations",
            slug,
            SearchObservationsInput,
            _search_observations,
            f"Search a patient's observations (vitals, labs…) in {vendor}",
        ),
    )
