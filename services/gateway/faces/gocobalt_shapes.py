"""The gocobalt platform's shapes (its public API and its frontend SDK, cobalt-js): request
bodies, answers, its error body, and the conversions from Linkport's own models.

Linkport → gocobalt vocabulary: a linked account is a linked account (``udf`` is its
metadata), an app is an "application" (``auth_type`` ``oauth2`` or ``keybased``), a
connection is an "integration" / connected account, a config is a config whose workflow
fields are the Linkport workflows' fields, an execution is an execution (statuses
``COMPLETED``, ``RUNNING``, ``ERRORED``).
"""

from __future__ import annotations

import math
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import ConfigDict, Field, RootModel, StringConstraints

from services.gateway.endpoints import Call, ErrorShape, Reply
from shared.accounts.models import LinkedAccount
from shared.configs.schemas import ConfigRead
from shared.connections.models import Connection, ConnectionStatus
from shared.connectors.catalog import App
from shared.errors import ApiError, ErrorCode, invalid
from shared.executions.models import ExecutionListing, ExecutionStatus, StepRecord
from shared.infra.logs import scrub_secrets
from shared.schemas import RequestModel, ResponseModel
from shared.tenancy import Tenant
from shared.webhooks.envelopes import gocobalt_event_name
from shared.webhooks.models import SUBSCRIBABLE, Endpoint, WebhookEventType

ItemT = TypeVar("ItemT")

# A gocobalt linked account id, as headers, queries and bodies carry it.
AccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class CobaltRequest(RequestModel):
    """Base of the face's request bodies: fields Linkport does not use are ignored, as
    gocobalt's clients send more than any one call needs."""

    model_config = ConfigDict(extra="ignore")


class CobaltResponse(ResponseModel):
    """Base of the face's answers: ``_id``-style names by alias."""

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)


# --- errors -----------------------------------------------------------------------------


class CobaltError(CobaltResponse):
    """gocobalt's error body, every spelling its clients read (``error_code`` and ``error``;
    ``http_error_type``); ``code`` and ``field`` are Linkport's own, for the curious."""

    status_code: int
    http_error_type: str
    error_code: str
    error: str
    message: str
    request_id: str
    code: str
    field: str | None = None


# Linkport's 422 (a field is wrong) is gocobalt's 400: its clients know no 422.
_STATUS = {ErrorCode.VALIDATION_FAILED: 400, ErrorCode.CREDENTIALS_REJECTED: 400}


def _error_code(error: ApiError) -> str:
    if error.field == "linked_account_id":
        return "INVALID_LINKED_ACCOUNT_ID"
    if error.code is ErrorCode.NOT_FOUND:
        return "INVALID_EVENT" if error.field in ("event", "trigger") else "RESOURCE_NOT_FOUND"
    return "SERVER_ERROR"


def render_error(error: ApiError, request_id: str) -> Reply:
    """An ApiError as gocobalt's clients read errors."""
    status = _STATUS.get(error.code, error.status)
    code = _error_code(error)
    return Reply(
        CobaltError(
            status_code=status,
            http_error_type=HTTPStatus(status).name,
            error_code=code,
            error=code,
            message=error.message,
            request_id=request_id,
            code=error.code.value,
            field=error.field,
        ),
        status,
    )


ERRORS = ErrorShape(model=CobaltError, render=render_error)


# --- who the call is for --------------------------------------------------------------


def named_account(call: Call) -> str | None:
    """The ``linked_account_id`` a server call names (header first, then query), if any."""
    named = call.request.headers.get("linked_account_id") or call.request.query.get(
        "linked_account_id"
    )
    if named is not None and not (0 < len(named) <= 255 and named.isprintable()):
        raise invalid("linked_account_id", "linked_account_id: not a linked account id")
    return named


def acting_account(call: Call) -> str:
    """The linked account the call acts for: the session's, or the one a server names."""
    account = call.account_scope(named_account(call))
    if account is None:
        raise invalid("linked_account_id", "linked_account_id is required")
    return account


def environment(tenant: Tenant) -> str:
    """gocobalt's name for the tenant's environment."""
    return "production" if tenant.environment == "live" else "test"


def absolute(call: Call, path: str) -> str:
    """A Linkport path as an absolute URL (logos, hosted pages)."""
    return call.resources.settings.base_url.rstrip("/") + path


# --- linked accounts ------------------------------------------------------------------


class YourApp(CobaltRequest):
    """gocobalt's credentials for calling the product's own API (not something Linkport does)."""

    app_id: str | None = None
    auth_credentials: dict[str, Any] | None = None


class LinkedAccountFields(CobaltRequest):
    """A linked account's own fields, as gocobalt takes them."""

    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    udf: dict[str, Any] | None = Field(default=None, description="kept as Linkport metadata")
    your_app: YourApp | None = Field(default=None, description="not supported: omit it")

    def linkport_fields(self) -> dict[str, Any]:
        """The fields of Linkport's account these set (only those given)."""
        if self.your_app is not None:
            raise invalid(
                "your_app",
                "your_app: Linkport does not call your own app's API with stored credentials; "
                "omit your_app",
            )
        given = self.model_dump(exclude_unset=True, include={"name", "udf"})
        fields: dict[str, Any] = {}
        if "name" in given:
            fields["name"] = given["name"] or None
        if given.get("udf") is not None:
            if len(given["udf"]) > 100:
                raise invalid("udf", "udf: at most 100 keys")
            fields["metadata"] = given["udf"]
        return fields


class LinkedAccountCreate(LinkedAccountFields):
    """``POST /api/v2/public/linked-account`` (``account_id`` is the older spelling)."""

    linked_account_id: AccountId | None = None
    account_id: AccountId | None = None

    def account(self) -> str:
        """The id being created or updated."""
        account = self.linked_account_id or self.account_id
        if account is None:
            raise invalid("linked_account_id", "linked_account_id is required")
        return account


class LinkedAccountUpsert(LinkedAccountCreate):
    """``PUT /api/v2/public/linked-account``: flat, or with the fields under ``payload``."""

    payload: LinkedAccountFields | None = None

    def fields(self) -> LinkedAccountFields:
        """Where the account's fields are (``payload`` wins)."""
        return self.payload if self.payload is not None else self


class Udf(CobaltResponse):
    """One user-defined field."""

    key_name: str
    key_value: Any


class Integration(CobaltResponse):
    """One of the account's connections."""

    id: str = Field(serialization_alias="_id")
    type: str = Field(description="the app's slug")
    app_id: str
    name: str
    icon: str
    identifier: str
    auth_type: str
    status: str
    reauth_required: bool
    refresh_token_expired: bool
    createdAt: datetime
    updatedAt: datetime


class LinkedAccountItem(CobaltResponse):
    """A linked account in gocobalt's shape (``integrations`` only where it lists them)."""

    id: str = Field(serialization_alias="_id")
    account_id: str
    associated_org: str
    name: str | None
    environment: str
    udf: list[Udf]
    integrations: list[Integration] | None = None
    createdAt: datetime
    updatedAt: datetime
    v: int = Field(default=0, serialization_alias="__v")

    @classmethod
    def of(
        cls, call: Call, account: LinkedAccount, integrations: list[Integration] | None = None
    ) -> Self:
        """The gocobalt view of a Linkport account."""
        return cls(
            id=account.linked_account_id,
            account_id=account.linked_account_id,
            associated_org=str(call.tenant.client_id),
            name=account.name,
            environment=environment(call.tenant),
            udf=[Udf(key_name=k, key_value=v) for k, v in account.metadata.items()],
            integrations=integrations,
            createdAt=account.created_at,
            updatedAt=account.updated_at,
        )


def auth_type(app: App) -> str:
    """gocobalt's two auth types: OAuth2, or anything the user types in (keys, logins)."""
    return "oauth2" if app.auth_kind == "oauth2" else "keybased"


def integration(call: Call, app: App | None, connection: Connection) -> Integration:
    """A connection as one of an account's integrations."""
    slug = connection.app
    return Integration(
        id=str(connection.id),
        type=slug,
        app_id=slug,
        name=app.name if app else slug,
        icon=absolute(call, app.logo_path) if app else "",
        identifier=str(connection.id),
        auth_type=auth_type(app) if app else "oauth2",
        status=_account_status(connection),
        reauth_required=connection.status is ConnectionStatus.NEEDS_REAUTH,
        refresh_token_expired=connection.status is ConnectionStatus.NEEDS_REAUTH,
        createdAt=connection.created_at,
        updatedAt=connection.updated_at,
    )


class Message(CobaltResponse):
    """``{"message": …}``, gocobalt's answer to deletes and events."""

    message: str


class EventFired(Message):
    """An event was accepted (gocobalt answers before the workflows run, as Linkport does)."""

    event_id: str = Field(description="Linkport's id of the event: GET /v1/events/{id}")


class SessionToken(CobaltResponse):
    """``POST /api/v2/public/session-token``."""

    token: str
    expires_in: int = Field(description="seconds")
    expires_at: datetime


class SessionTokenCreate(CobaltRequest):
    """The account to issue a session token for."""

    linked_account_id: AccountId


class CobaltPage(CobaltResponse, Generic[ItemT]):
    """mongoose-paginate's page, as gocobalt lists answer."""

    docs: list[ItemT]
    totalDocs: int
    limit: int
    page: int
    totalPages: int
    pagingCounter: int
    hasPrevPage: bool
    hasNextPage: bool
    prevPage: int | None
    nextPage: int | None

    @classmethod
    def of(cls, docs: list[ItemT], *, total: int, page: int, limit: int) -> Self:
        """Page ``page`` of ``limit`` items among ``total``."""
        pages = math.ceil(total / limit) or 1
        return cls(
            docs=docs,
            totalDocs=total,
            limit=limit,
            page=page,
            totalPages=pages,
            pagingCounter=(page - 1) * limit + 1,
            hasPrevPage=page > 1,
            hasNextPage=page < pages,
            prevPage=page - 1 if page > 1 else None,
            nextPage=page + 1 if page < pages else None,
        )


class PageQuery(CobaltRequest):
    """``?page=&limit=`` (from 1; at most the gateway's largest page)."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int | None = Field(default=None, ge=1)


# --- applications ---------------------------------------------------------------------


class InputField(CobaltResponse):
    """A field the user types to connect a key-based app."""

    name: str
    label: str
    type: str
    required: bool
    placeholder: str


class ConnectedAccount(CobaltResponse):
    """The account's connection to the app (cobalt-js 8.9.2+ reads ``auth_type`` and ``status``)."""

    identifier: str
    auth_type: str
    connectedAt: datetime
    status: str


class Version(CobaltResponse):
    """gocobalt versions its apps; Linkport's catalog has one version of each."""

    v: str = Field(default="1", serialization_alias="_v")
    description: str = ""


class Application(CobaltResponse):
    """An app in gocobalt's shape, with the account's connection to it: ``connected`` and
    ``reauth_required`` (cobalt-js 8.0 to 8.9.1 reads those) and ``connected_accounts`` (later
    versions read that)."""

    id: str = Field(serialization_alias="_id")
    app_id: str
    type: str
    slug: str
    name: str
    description: str
    icon: str
    tags: list[str]
    auth_type: str
    auth_input_map: list[InputField]
    auth_type_options: dict[str, list[InputField]]
    version: Version = Field(default_factory=Version)
    connected: bool
    reauth_required: bool
    connected_accounts: list[ConnectedAccount]


class Applications(RootModel[list[Application]], ResponseModel):
    """Every app the tenant offers, with the account's connection to each."""


def _account_status(connection: Connection) -> str:
    return "active" if connection.status is ConnectionStatus.ACTIVE else "expired"


def application(call: Call, app: App, connection: Connection | None) -> Application:
    """An enabled app, with the account's connection to it if any."""
    inputs = [
        InputField(
            name=f.key,
            label=f.label,
            type="password" if f.secret else f.type,
            required=f.required,
            placeholder=f.placeholder or "",
        )
        for f in app.fields
    ]
    live = connection is not None and connection.status is not ConnectionStatus.DISCONNECTED
    accounts = []
    if connection is not None and live:
        accounts.append(
            ConnectedAccount(
                identifier=str(connection.id),
                auth_type=auth_type(app),
                connectedAt=connection.created_at,
                status=_account_status(connection),
            )
        )
    return Application(
        id=app.slug,
        app_id=app.slug,
        type=app.slug,
        slug=app.slug,
        name=app.name,
        description=app.description,
        icon=absolute(call, app.logo_path),
        tags=app.categories,
        auth_type=auth_type(app),
        auth_input_map=inputs,
        auth_type_options={auth_type(app): inputs},
        connected=live,
        reauth_required=connection is not None
        and connection.status is ConnectionStatus.NEEDS_REAUTH,
        connected_accounts=accounts,
    )


class AuthUrl(CobaltResponse):
    """Where the user authorises the app (Linkport's hosted page, opening that app)."""

    auth_url: str


class HostedUrl(CobaltResponse):
    """``POST /api/v2/public/connect-url``."""

    hosted_url: str


class ConnectUrlCreate(CobaltRequest):
    """Free-form properties for the hosted page: Linkport uses ``name`` and a hex ``color``
    (``base_color``, ``button_color`` and ``bgColor`` are other spellings it reads)."""

    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    color: str | None = None
    base_color: str | None = None
    button_color: str | None = None
    bgColor: str | None = None


class KeyCredentials(RequestModel):
    """A key-based app's fields, flat: ``{"api_key": "…"}`` (names from ``auth_input_map``)."""

    model_config = ConfigDict(extra="allow")

    def values(self) -> dict[str, Any]:
        """The fields as sent."""
        return dict(self.model_extra or {})


class Success(CobaltResponse):
    """``{"success": true}``."""

    success: bool = True


# --- configs --------------------------------------------------------------------------


class Option(CobaltResponse):
    """A select field's option."""

    name: str
    value: Any


class ConfigField(CobaltResponse):
    """A workflow field, with its value in this config."""

    id: str
    name: str
    field_type: str
    required: bool
    options: list[Option]
    labels: list[Option] = Field(default_factory=list)
    multiple: bool = False
    hidden: bool = False
    value: Any = None
    defaultValue: Any = None


class ConfigWorkflow(CobaltResponse):
    """A workflow of the app, enabled or not in this config, with its fields."""

    id: str
    name: str
    description: str = ""
    enabled: bool
    fields: list[ConfigField]


class Config(CobaltResponse):
    """A config in gocobalt's shape. Linkport's fields belong to workflows: the top-level
    ``fields`` list is empty, each workflow lists its own."""

    slug: str
    config_id: str
    fields: list[ConfigField]
    workflows: list[ConfigWorkflow]
    field_errors: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def of(cls, config: ConfigRead) -> Self:
        """The gocobalt view of a Linkport config."""
        enabled = set(config.enabled_workflows)
        return cls(
            slug=config.app,
            config_id=config.config_id,
            fields=[],
            workflows=[
                ConfigWorkflow(
                    id=w.id,
                    name=w.name,
                    enabled=w.id in enabled,
                    fields=[_config_field(f, config.fields) for f in w.fields],
                )
                for w in config.workflows
            ],
        )


def _config_field(spec: dict[str, Any], values: dict[str, Any]) -> ConfigField:
    return ConfigField(
        id=spec["key"],
        name=spec["label"],
        field_type=spec["type"],
        required=spec["required"],
        options=[Option(name=str(o), value=o) for o in spec.get("options") or []],
        value=values.get(spec["key"], spec.get("default")),
        defaultValue=spec.get("default"),
    )


FieldValues = dict[str, Any] | list[dict[str, Any]]


def field_values(given: FieldValues | None, where: str) -> dict[str, Any]:
    """Field values as ``{fieldId: value}`` (gocobalt's 2023 form) or a list of field
    objects with ``id`` and ``value`` (its current schema)."""
    if given is None:
        return {}
    if isinstance(given, dict):
        return given
    values = {}
    for i, item in enumerate(given):
        if not isinstance(item.get("id"), str):
            raise invalid(f"{where}.{i}.id", f"{where}.{i}.id: required")
        values[item["id"]] = item.get("value")
    return values


class ConfigFind(CobaltRequest):
    """Find or create the account's config for an app. ``labels`` (dynamic options in
    gocobalt) are accepted and not used."""

    slug: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    config_id: AccountId | None = None
    labels: Any = None


class WorkflowUpdate(CobaltRequest):
    """One workflow of the config: enabled or not, and its fields' values."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    enabled: bool | None = None
    fields: FieldValues | None = None


class ConfigUpdate(CobaltRequest):
    """Save values and which workflows run (values are merged into what is saved)."""

    slug: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    config_id: AccountId | None = None
    fields: FieldValues | None = None
    workflows: Annotated[list[WorkflowUpdate], Field(max_length=200)] | None = None


# --- events ---------------------------------------------------------------------------


class EventSend(CobaltRequest):
    """An app event: ``event`` (or ``trigger``) names it, free text; ``payload`` is a JSON
    object (or a string holding one)."""

    event: str | None = None
    trigger: str | None = None
    payload: Any = None


# --- executions -----------------------------------------------------------------------

_STATUS_NAMES = {
    ExecutionStatus.PENDING: "RUNNING",
    ExecutionStatus.RUNNING: "RUNNING",
    ExecutionStatus.SUCCEEDED: "COMPLETED",
    ExecutionStatus.FAILED: "ERRORED",
    ExecutionStatus.NEEDS_REAUTH: "ERRORED",
}


def statuses_named(name: str) -> list[ExecutionStatus]:
    """Linkport's statuses behind one of gocobalt's (none for STOPPED, TIMED_OUT…)."""
    return [status for status, named in _STATUS_NAMES.items() if named == name.upper()]


class Named(CobaltResponse):
    """An app or workflow an execution refers to."""

    id: str = Field(serialization_alias="_id")
    name: str
    icon: str = ""


class Node(CobaltResponse):
    """One step of the execution (secrets in input and output redacted)."""

    node_id: str
    status: str
    input: Any
    output: Any
    error: Any
    attempts: int
    started_at: datetime
    finished_at: datetime


class Execution(CobaltResponse):
    """An execution in gocobalt's shape; ``linkport_status`` keeps Linkport's finer status."""

    id: str = Field(serialization_alias="_id")
    name: str
    status: str
    linkport_status: ExecutionStatus
    org_id: str
    environment: str
    linked_account_id: str
    config_id: str | None
    associated_event_id: str
    associated_application: Named
    associated_workflow: Named
    error: Any = None
    attempts: int
    createdAt: datetime
    updatedAt: datetime
    completion_time: datetime | None
    nodes: list[Node] | None = None

    @classmethod
    def of(
        cls,
        call: Call,
        listing: ExecutionListing,
        catalog_app: App | None,
        steps: list[StepRecord] | None = None,
    ) -> Self:
        """The gocobalt view of an execution (with its steps on the single-execution route)."""
        execution = listing.execution
        app = listing.app or ""
        return cls(
            id=str(execution.id),
            name=listing.workflow_name or "",
            status=_STATUS_NAMES[execution.status],
            linkport_status=execution.status,
            org_id=str(call.tenant.client_id),
            environment=environment(call.tenant),
            linked_account_id=execution.linked_account_id,
            config_id=listing.config_id,
            associated_event_id=str(execution.event_id),
            associated_application=Named(
                id=app,
                name=catalog_app.name if catalog_app else app,
                icon=absolute(call, catalog_app.logo_path) if catalog_app else "",
            ),
            associated_workflow=Named(
                id=str(execution.workflow_id), name=listing.workflow_name or ""
            ),
            error=execution.error,
            attempts=execution.attempts,
            createdAt=execution.created_at,
            updatedAt=execution.updated_at,
            completion_time=execution.finished_at,
            nodes=None
            if steps is None
            else [
                Node(
                    node_id=s.step_id,
                    status=s.status.value.upper(),
                    input=scrub_secrets(s.input),
                    output=scrub_secrets(s.output),
                    error=s.error,
                    attempts=s.attempts,
                    started_at=s.started_at,
                    finished_at=s.finished_at,
                )
                for s in steps
            ],
        )


class ExecutionQuery(PageQuery):
    """Filters of the execution list."""

    slug: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    workflow_id: str | None = Field(default=None, max_length=64)
    execution_id: str | None = Field(default=None, max_length=64)
    sortAsc: bool = False


class Rerun(CobaltResponse):
    """A rerun was queued (both documented answers: ``status``/``id`` and ``message``/``instanceId``)."""

    status: str = "queued"
    id: str
    message: str = "Execution queued"
    instanceId: str


# --- cobalt-js only -------------------------------------------------------------------


class OrgBasics(CobaltResponse):
    """``GET /api/v3/org/basics``: the org (Linkport client) and the session's account."""

    id: str = Field(serialization_alias="_id")
    name: str
    environment: str
    color: str | None
    linked_account_id: str
    linked_account_name: str | None


# --- webhooks -------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


class WebhookFields(CobaltRequest):
    """What ``POST`` and ``PUT /api/v2/public/webhook[/{id}]`` take. Linkport sends every
    webhook as a POST with its own body, to every app and workflow: the other fields are
    accepted only with their default values."""

    webhook_url: str | None = None
    webhook_events: list[str] | None = None
    is_enabled: bool | None = None
    description: str | None = None
    webhook_description: str | None = None
    webhook_headers: Any = None
    webhook_body: Any = None
    method: str | None = None
    webhook_type: str | None = None
    workflow_ids: Any = None
    slug: str | None = None
    group: str | None = None

    def unsupported(self) -> None:
        """A 400 naming the first field set to something Linkport does not do."""
        refusals = {
            "webhook_headers": "Linkport sends its own headers: omit webhook_headers",
            "webhook_body": "Linkport sends gocobalt's webhook body: omit webhook_body",
            "workflow_ids": "webhooks are for every workflow: omit workflow_ids",
            "slug": "webhooks are for every app: omit slug",
            "group": "webhook groups are not supported: omit group",
        }
        for name, why in refusals.items():
            if not _empty(getattr(self, name)):
                raise invalid(name, f"{name}: not supported ({why})")
        if not _empty(self.method) and str(self.method).upper() != "POST":
            raise invalid("method", "method: not supported (webhooks are sent as POST)")
        if not _empty(self.webhook_type) and self.webhook_type != "default":
            raise invalid(
                "webhook_type", "webhook_type: not supported (only default webhooks are sent)"
            )

    def about(self) -> str | None:
        """The description given (``description``, else ``webhook_description``)."""
        return self.description if self.description is not None else self.webhook_description


class WebhookCreate(WebhookFields):
    """``POST /api/v2/public/webhook``."""

    webhook_url: str
    webhook_events: list[str]


class Webhook(CobaltResponse):
    """A webhook endpoint in gocobalt's shape (the fields Linkport does not support carry
    their defaults)."""

    id: str = Field(serialization_alias="_id")
    org_id: str
    environment: str
    is_enabled: bool
    webhook_events: list[str]
    slug: str | None = None
    description: str
    workflow_ids: list[str] = Field(default_factory=list)
    webhook_url: str
    webhook_description: str
    webhook_body: None = None
    webhook_headers: dict[str, str] = Field(default_factory=dict)
    method: str = "POST"
    group: str | None = None
    webhook_type: str = "default"
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> Self:
        """The gocobalt view of a Linkport endpoint."""
        return cls(
            id=str(endpoint.id),
            org_id=str(endpoint.tenant.client_id),
            environment=environment(endpoint.tenant),
            is_enabled=endpoint.enabled,
            webhook_events=event_names(endpoint.event_types),
            description=endpoint.description or "",
            webhook_url=endpoint.url,
            webhook_description=endpoint.description or "",
            createdAt=endpoint.created_at,
            updatedAt=endpoint.updated_at,
        )


class Webhooks(RootModel[list[Webhook]], ResponseModel):
    """The tenant's gocobalt-format webhook endpoints."""


def event_names(event_types: tuple[WebhookEventType, ...] | None) -> list[str]:
    """gocobalt's names of the types (None: every type that is not opt-in), each once."""
    chosen = [t for t in SUBSCRIBABLE if not t.opt_in] if event_types is None else list(event_types)
    names = (gocobalt_event_name(t) for t in chosen)
    return list(dict.fromkeys(n for n in names if n is not None))


def event_types(names: list[str], field: str = "webhook_events") -> list[WebhookEventType]:
    """Linkport's types for gocobalt's event names (``Connection Created`` is also a
    connection authorised again, which gocobalt names the same); a 400 for another name."""
    known: dict[str, list[WebhookEventType]] = {}
    for event_type in SUBSCRIBABLE:
        name = gocobalt_event_name(event_type)
        if name is not None:
            known.setdefault(name, []).append(event_type)
    if not names:
        raise invalid(field, f"{field}: name one event at least")
    found: list[WebhookEventType] = []
    for position, name in enumerate(names):
        if name not in known:
            raise invalid(
                f"{field}.{position}",
                f"{field}.{position}: unknown event {name!r} (one of: {', '.join(known)})",
            )
        found.extend(t for t in known[name] if t not in found)
    return found
