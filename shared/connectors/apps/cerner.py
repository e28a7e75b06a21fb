"""Oracle Health (Cerner Millennium, SMART on FHIR R4): patients and observations.

No write: the patient persona this app connects with (standalone launch, patient context)
is granted no create scope by Oracle Health's authorization server (its patient
``smart-configuration`` lists only read/search scopes); creates such as
``DocumentReference`` need the provider or system persona."""

from __future__ import annotations

from shared.connectors import fhir
from shared.connectors.base import Action

ACTIONS: tuple[Action, ...] = fhir.read_actions("cerner", "Oracle Health")
