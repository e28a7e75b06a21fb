"""The Vital face's request and response bodies: Vital's own field names and shapes, as its
official SDK (``vital`` on PyPI) sends and parses them. Every response field the SDK requires
is always present; optional ones are ``null`` when Linkport has nothing to say.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, RootModel, StringConstraints

from shared.link.schemas import WearablesLinkTokenCreate
from shared.schemas import ExternalId, RequestModel, ResponseModel, Slug


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone, such as Europe/London") from None
    return value


def _iso_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None
    return value


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
IsoDate = Annotated[str, StringConstraints(max_length=10), AfterValidator(_iso_date)]
Secret = Annotated[str, StringConstraints(max_length=4096)]


# Requests ------------------------------------------------------------------------------------


class VitalLinkTokenCreate(WearablesLinkTokenCreate):
    """``POST /v2/link/token``. ``user_id`` is the ``user_id`` ``POST /v2/user`` returned; the
    seed's client-chosen ids work too (the account is created; the answer is the seed's)."""

    on_error: Literal["redirect"] | None = Field(
        default=None,
        description="accepted: Linkport's hosted flow always ends at redirect_url when it has one",
    )
    on_close: Literal["redirect"] | None = Field(
        default=None,
        description="accepted: Cancel ends at redirect_url with error_type=user_cancelled",
    )


class VitalUserCreate(RequestModel):
    """``POST /v2/user``: a user is a linked account named ``client_user_id``."""

    client_user_id: ExternalId
    fallback_time_zone: TimeZone | None = None
    fallback_birth_date: IsoDate | None = None
    ingestion_start: IsoDate | None = None
    ingestion_end: IsoDate | None = None


class VitalUserPatch(RequestModel):
    """``PATCH /v2/user/{user_id}``: ``null`` and absent both leave a field as it is."""

    client_user_id: ExternalId | None = Field(
        default=None, description="must stay the same: it is the linked account's id"
    )
    fallback_time_zone: TimeZone | None = None
    fallback_birth_date: IsoDate | None = None
    ingestion_start: IsoDate | None = None
    ingestion_end: IsoDate | None = None


class VitalUsersQuery(RequestModel):
    """``GET /v2/user``: paged by offset, ordered by ``client_user_id``."""

    offset: int = Field(default=0, ge=0, le=2**31 - 1)
    limit: int = Field(default=100, ge=1, le=500)


class VitalProvidersQuery(RequestModel):
    """``GET /v2/providers``: every catalog app is of source type ``app``."""

    source_type: Annotated[str, StringConstraints(max_length=32)] | None = None


class VitalPasswordConnect(RequestModel):
    """``POST /v2/link/provider/password/{provider}``: the app's secret field gets ``password``,
    its other field (if any) ``username``."""

    username: Secret
    password: Secret
    region: Annotated[str, StringConstraints(max_length=8)] | None = None


class VitalPasswordAuth(RequestModel):
    """``POST /v2/link/auth`` (the SDK's ``password_auth``): the same, naming the provider."""

    username: Secret
    password: Secret
    provider: Slug
    auth_type: Literal["password", "oauth", "email"]


class VitalTokenCheck(RequestModel):
    """``POST /v2/link/token/isValid``."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class VitalStartConnect(RequestModel):
    """``POST /v2/link/start``: the link token in the body instead of a header."""

    link_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    provider: Slug


# Responses -----------------------------------------------------------------------------------


class VitalErrorBody(ResponseModel):
    """Every error on the Vital face: ``detail`` is a message, an object (``error_type``,
    ``error_message``, …) or, for a 422, a list of ``{loc, msg, type}``."""

    detail: Any


class VitalLinkTokenCreated(ResponseModel):
    """A link token and the hosted Link page that uses it."""

    link_token: str
    link_web_url: str | None = Field(
        default=None,
        description="always present for a user_id from POST /v2/user; the seed's form "
        "(a client-chosen user_id) answers only link_token",
    )


class VitalProvider(ResponseModel):
    """An app, as Vital names a provider."""

    name: str
    slug: str
    logo: str


class VitalConnectedSource(ResponseModel):
    """One of a user's connections (``source`` repeats ``provider``, as Vital's does)."""

    provider: VitalProvider
    source: VitalProvider
    created_on: datetime


class VitalFallbackTimeZone(ResponseModel):
    """A user's fallback time zone, set through this API (``source_slug`` ``manual``)."""

    id: str
    source_slug: str
    updated_at: datetime


class VitalFallbackBirthDate(ResponseModel):
    """A user's fallback birth date, set through this API (``source_slug`` ``manual``)."""

    value: str
    source_slug: str
    updated_at: datetime


class VitalUser(ResponseModel):
    """A user: a linked account; ``team_id`` is the Linkport client."""

    user_id: str
    team_id: str
    client_user_id: str
    created_on: datetime
    connected_sources: list[VitalConnectedSource]
    fallback_time_zone: VitalFallbackTimeZone | None
    fallback_birth_date: VitalFallbackBirthDate | None
    ingestion_start: str | None
    ingestion_end: str | None


class VitalUsersPage(ResponseModel):
    """A page of users."""

    users: list[VitalUser]
    total: int
    offset: int
    limit: int


class VitalSuccess(ResponseModel):
    """``{"success": true}``."""

    success: bool = True


class VitalConnectionErrorDetails(ResponseModel):
    """Why a connection is not usable."""

    error_type: str
    error_message: str
    errored_at: datetime


class VitalProviderWithStatus(VitalProvider):
    """A connected provider: ``connected``, or ``error`` with ``error_details``."""

    created_on: datetime
    status: Literal["connected", "error"]
    resource_availability: dict[str, Any] = Field(default_factory=dict)
    external_user_id: str | None = None
    error_details: VitalConnectionErrorDetails | None = None


class VitalConnectedProviders(ResponseModel):
    """``GET /v2/user/providers/{user_id}``."""

    providers: list[VitalProviderWithStatus]


class VitalMetrics(ResponseModel):
    """``GET /v2/user/metrics``: counts of the client's users and connections."""

    team_id: str
    number_of_users: int
    number_of_connected_sources: int
    number_of_errored_connected_sources: int


class VitalProviderDetailed(ResponseModel):
    """A catalog app in ``GET /v2/providers``."""

    name: str
    slug: str
    description: str
    logo: str
    auth_type: str
    supported_resources: list[str]


class VitalProviderList(RootModel[list[VitalProviderDetailed]], ResponseModel):
    """``GET /v2/providers``: a JSON array."""


class VitalSourceLink(ResponseModel):
    """An app a link token offers (``GET /v2/link/providers``)."""

    id: int
    name: str
    slug: str
    description: str
    logo: str
    auth_type: str
    oauth_url: str | None = None
    form_components: dict[str, Any] | None = None


class VitalSourceLinkList(RootModel[list[VitalSourceLink]], ResponseModel):
    """``GET /v2/link/providers``: a JSON array."""


class VitalSource(ResponseModel):
    """One app of a link token, with the URL that starts its sign-in (``oauth_url``)."""

    id: int
    name: str
    slug: str
    description: str
    logo: str
    group: str | None = None
    oauth_url: str | None
    auth_type: str
    source_type: str = "app"
    is_active: bool = True
    backfill_num_days: int | None = None


class VitalProviderLinkResult(ResponseModel):
    """A password provider's answer: connected, or ``state`` ``error`` with why (HTTP 200, as
    Vital answers a wrong password)."""

    state: Literal["success", "error"]
    provider: str
    connected: bool
    redirect_url: str | None = None
    error_type: str | None = None
    error: str | None = None
    provider_mfa: None = None
    provider_id: str | None = None


class VitalTokenValidity(ResponseModel):
    """Whether a link token of this client can still be used."""

    valid: bool


class VitalTokenState(ResponseModel):
    """What a live link token was created with."""

    valid: bool = True
    user_id: str
    client_user_id: str
    provider: str | None
    filter_on_providers: list[str] | None
    redirect_url: str | None
    expires_at: datetime
