"""Declaring endpoints: one decorator names the route, who may call it, and its models.

The same declarations drive routing, authentication, request parsing and ``/openapi.json``,
so the published schema cannot drift from what the handlers accept.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.gateway import auth
from services.gateway.appkeys import PRINCIPAL, RESOURCES
from shared.errors import ApiError, ErrorCode, invalid, not_found
from shared.infra.logs import REQUEST_ID
from shared.resources import Resources
from shared.schemas import RequestModel, ResponseModel
from shared.tenancy import Principal, ServerPrincipal, SessionPrincipal, Tenant


class Access(Enum):
    """Which credentials an endpoint accepts."""

    PUBLIC = "public"
    SERVER = "server"  # client_id + client_secret headers, or an API key
    SERVER_OR_SESSION = "server_or_session"  # also a frontend's session token


@dataclass(frozen=True)
class Reply:
    """A response model with a status of the endpoint's own choosing: its declared ``status``
    or one of its ``also`` statuses (``/openapi.json`` lists exactly those)."""

    model: ResponseModel
    status: int


HandlerResult = ResponseModel | Reply
Handler = Callable[..., Awaitable[HandlerResult]]


@dataclass(frozen=True)
class ErrorShape:
    """How a face's clients expect errors: ``render(error, request_id)`` gives the body and
    status, ``model`` documents the body in ``/openapi.json``. Without one, Linkport's own
    ``{"success": false, "error": {...}}`` (rendered by the middleware)."""

    model: type[BaseModel]
    render: Callable[[ApiError, str], Reply]


@dataclass(slots=True)
class Call:
    """One authenticated request, as a handler sees it."""

    request: web.Request
    resources: Resources
    principal: Principal | None

    @property
    def tenant(self) -> Tenant:
        """The caller's tenant (every non-public endpoint has one)."""
        assert self.principal is not None
        return self.principal.tenant

    @property
    def session(self) -> SessionPrincipal | None:
        """The session principal when a frontend's session token was used."""
        return self.principal if isinstance(self.principal, SessionPrincipal) else None

    @property
    def server(self) -> ServerPrincipal:
        """The server principal (only on ``Access.SERVER`` endpoints)."""
        assert isinstance(self.principal, ServerPrincipal)
        return self.principal

    # One rule, applied by the three methods below: a session token may act only for its own
    # linked account (whatever the request names); server credentials may act for any.

    def account_scope(self, named: str | None = None) -> str | None:
        """The linked account this call is limited to (None: every account)."""
        if isinstance(self.principal, SessionPrincipal):
            return self.principal.linked_account_id
        return named

    def may_act_for(self, linked_account_id: str) -> bool:
        """Whether this call may see or change what belongs to that linked account."""
        scope = self.account_scope()
        return scope is None or scope == linked_account_id

    def acting_account(self, named: str | None) -> str:
        """The one linked account this call acts for; a 422 when a server names none."""
        account = self.account_scope(named)
        if account is None:
            raise invalid(
                "linked_account_id", "linked_account_id: required with server credentials"
            )
        return account

    def page_limit(self, requested: int | None) -> int:
        """The page size to use: the default when unset, a 422 above the maximum."""
        settings = self.resources.settings
        if requested is None:
            return settings.page_size_default
        if requested > settings.page_size_max:
            raise invalid("limit", f"limit: must be at most {settings.page_size_max}")
        return requested

    def path(self, name: str) -> str:
        """A path parameter, already URL-decoded (a 422 when it holds a NUL, which no stored
        text can)."""
        value = self.request.match_info[name]
        if "\x00" in value:
            raise invalid(name, f"{name}: must not contain the NUL character (\\u0000)")
        return value

    def path_id(self, name: str, kind: str) -> uuid.UUID:
        """A path parameter that is an object's id; a malformed one is that object's 404."""
        try:
            return uuid.UUID(self.request.match_info[name])
        except ValueError:
            raise not_found(kind) from None


@dataclass(frozen=True)
class Endpoint:
    """One route's declaration."""

    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    body: type[RequestModel] | None
    query: type[RequestModel] | None
    response: type[BaseModel] | None
    status: int
    tag: str
    aliases: tuple[str, ...]
    vital_header: bool
    errors: ErrorShape | None = None
    # Other statuses the handler may answer with (a Reply) with the same response model, each
    # with when it does: (status, description).
    also: tuple[tuple[int, str], ...] = ()

    @property
    def operation_id(self) -> str:
        """The handler's name, as the OpenAPI operation id."""
        return self.handler.__name__

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status a successful call answers with."""
        return (self.status, *(status for status, _ in self.also))


@dataclass
class Router:
    """Collects endpoint declarations of one feature module."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)
    errors: ErrorShape | None = None

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        access: Access = Access.SERVER,
        body: type[RequestModel] | None = None,
        query: type[RequestModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        also: Mapping[int, str] | None = None,
        aliases: tuple[str, ...] = (),
        vital_header: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare the decorated handler as ``method path``. ``status`` is what it answers
        with; ``also``, any other status its Reply may carry, with when (documented in
        ``/openapi.json`` beside ``status``)."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    summary,
                    access,
                    body,
                    query,
                    response,
                    status,
                    self.tag,
                    aliases,
                    vital_header,
                    self.errors,
                    tuple(sorted((also or {}).items())),
                )
            )
            return handler

        return register


def aiohttp_handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for an endpoint: authenticate, parse, call, serialize."""

    async def handle(request: web.Request) -> web.StreamResponse:
        resources = request.app[RESOURCES]
        principal: Principal | None = None
        if endpoint.access is not Access.PUBLIC:
            principal = await auth.authenticate(
                request,
                resources,
                allow_session=endpoint.access is Access.SERVER_OR_SESSION,
                vital_header=endpoint.vital_header,
            )
            request[PRINCIPAL] = principal
        kwargs: dict[str, Any] = {}
        if endpoint.query is not None:
            kwargs["query"] = _parse_query(request, endpoint.query)
        if endpoint.body is not None:
            kwargs["body"] = await _parse_body(
                request, endpoint.body, resources.settings.max_body_bytes
            )
        result = await endpoint.handler(Call(request, resources, principal), **kwargs)
        model, status = (
            (result.model, result.status)
            if isinstance(result, Reply)
            else (result, endpoint.status)
        )
        return web.Response(
            body=model.__pydantic_serializer__.to_json(model),  # bytes, no str round trip
            status=status,
            content_type="application/json",
        )

    shape = endpoint.errors
    if shape is None:
        handle.__name__ = endpoint.operation_id
        return handle

    async def handle_in_shape(request: web.Request) -> web.StreamResponse:
        try:
            return await handle(request)
        except ApiError as exc:
            return shaped_error(shape, exc, REQUEST_ID.get() or "")

    handle_in_shape.__name__ = endpoint.operation_id
    return handle_in_shape


def shaped_error(shape: ErrorShape, error: ApiError, request_id: str) -> web.Response:
    """``error`` as the clients of ``shape``'s face read errors."""
    reply = shape.render(error, request_id)
    return web.Response(
        body=reply.model.__pydantic_serializer__.to_json(reply.model),
        status=reply.status,
        content_type="application/json",
    )


def _media_type(request: web.Request) -> str:
    """The media type of the body, from the raw header (aiohttp's full parse costs more)."""
    return request.headers.get("Content-Type", "").partition(";")[0].strip().lower()


async def _parse_body(
    request: web.Request, model: type[RequestModel], max_bytes: int
) -> RequestModel:
    """The body as ``model``: a JSON object is required (``{}`` when every field is optional),
    so that a request that lost its body is never taken for one that changes nothing."""
    length = request.content_length
    if length is not None and length > max_bytes:
        # Refused from the header alone: the body is never read.
        raise ApiError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"request body is larger than {max_bytes} bytes"
        )
    if not request.body_exists:
        raise invalid("body", "body: required (a JSON object)")
    media_type = _media_type(request)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"request body must be application/json, not {media_type or 'unspecified'}",
        )
    raw = await request.read()
    if not raw:
        raise invalid("body", "body: required (a JSON object)")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _parse_query(request: web.Request, model: type[RequestModel]) -> RequestModel:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ApiError:
    """A pydantic failure as a 422 naming the first bad field (400 for malformed JSON)."""
    errors = exc.errors(include_url=False)  # inputs only to tell a null; never echoed
    first = errors[0]
    if first["type"] == "json_invalid":
        return ApiError(ErrorCode.INVALID_JSON, f"request body is not valid JSON: {first['msg']}")
    if not first["loc"]:
        if first["type"] in _NOT_AN_OBJECT:
            return invalid("body", "request body must be a JSON object")
        return invalid("body", f"body: {_message(first)}")  # a rule across fields
    details = [
        {"field": _field_name(e["loc"]), "message": _message(e), "type": e["type"]} for e in errors
    ]
    field_name = _field_name(first["loc"])
    error = invalid(field_name, f"{field_name}: {_message(first)}")
    error.details = details
    return error


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unexpected field"
    if error["type"] == "missing":
        return "field required"
    if error.get("input", ...) is None and error["type"].endswith("_type"):
        return "must not be null (leave the field out instead)"
    message = str(error["msg"])
    # pydantic's prefix for a ValueError raised by a rule of ours
    return message.removeprefix("Value error, ")
