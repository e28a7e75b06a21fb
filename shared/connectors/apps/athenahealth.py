"""athenahealth (athenaOne FHIR R4, SMART on FHIR): patients and observations.

No write: athenahealth's R4 CapabilityStatement offers only read and search on Patient and
Observation (https://api.platform.athenahealth.com/fhir/r4/metadata); its one clinical
create is QuestionnaireResponse, which no action here needs yet."""

from __future__ import annotations

from shared.connectors import fhir
from shared.connectors.base import Action

ACTIONS: tuple[Action, ...] = fhir.read_actions("athenahealth", "athenahealth")
