"""``/openapi.json``, generated from the endpoint declarations and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from services.gateway.endpoints import Access, Endpoint
from shared.schemas import ResponseModel

REF_TEMPLATE = "#/components/schemas/{model}"
METHOD_NOT_ALLOWED = "#/components/responses/MethodNotAllowed"
_PATH_PARAM = re.compile(r"{(\w+)}")


class ErrorDetail(ResponseModel):
    """What went wrong, and where."""

    code: str
    message: str
    field: str | None = None
    request_id: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(ResponseModel):
    """Every 4xx/5xx answer."""

    success: bool = False
    error: ErrorDetail


SERVER_SECURITY: list[dict[str, list[str]]] = [
    {"clientId": [], "clientSecret": []},
    {"apiKey": []},
    {"bearerApiKey": []},
]


def _security(endpoint: Endpoint) -> list[dict[str, list[str]]]:
    if endpoint.access is Access.PUBLIC:
        return []
    security = list(SERVER_SECURITY)
    if endpoint.access is Access.SERVER_OR_SESSION:
        security.append({"sessionToken": []})
    if endpoint.vital_header:
        security.append({"vitalApiKey": []})
    return security


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(endpoint: Endpoint, names: dict[type[BaseModel], str]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "security": _security(endpoint),
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        params += _query_parameters(endpoint.query)
    if params:
        op["parameters"] = params
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF_TEMPLATE.format(model=names[endpoint.body])}
                }
            },
        }
    responses: dict[str, Any] = {}
    if endpoint.response is not None:
        content = {
            "application/json": {
                "schema": {"$ref": REF_TEMPLATE.format(model=names[endpoint.response])}
            }
        }
        main = endpoint.response.__doc__ or "OK"
        for status, description in ((endpoint.status, main), *endpoint.also):
            responses[str(status)] = {"description": description, "content": content}
    # Every path answers other methods with a 405 naming its own in Allow (RFC 9110).
    responses["405"] = {"$ref": METHOD_NOT_ALLOWED}
    error_model = endpoint.errors.model if endpoint.errors is not None else ErrorBody
    responses["default"] = {
        "description": "an error",
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=names[error_model])}}
        },
    }
    op["responses"] = responses
    return op


def build_openapi(
    endpoints: list[Endpoint],
    *,
    title: str,
    version: str,
    extra_paths: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared endpoint, and of ``extra_paths`` (path
    items of routes that are not endpoints: the proxy)."""
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorBody, "serialization")}
    for e in endpoints:
        if e.errors is not None:
            models.add((e.errors.model, "serialization"))
        if e.body is not None:
            models.add((e.body, "validation"))
        if e.response is not None:
            models.add((e.response, "serialization"))
    key_map, schema = models_json_schema(
        sorted(models, key=lambda m: m[0].__name__), ref_template=REF_TEMPLATE
    )
    names: dict[type[BaseModel], str] = {
        model: ref["$ref"].rsplit("/", 1)[-1]
        for (model, _), ref in key_map.items()
        if isinstance(model, type) and issubclass(model, BaseModel)
    }
    defs: dict[str, Any] = schema.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        for path in (e.path, *e.aliases):
            paths.setdefault(path, {})[e.method.lower()] = _operation(e, names)
    for path, item in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs,
            "responses": {
                "MethodNotAllowed": {
                    "description": "this path does not take that method",
                    "headers": {
                        "Allow": {
                            "description": "the methods this path takes",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                    "content": {"application/json": {"schema": _ref(ErrorBody)}},
                }
            },
            "securitySchemes": {
                "clientId": {"type": "apiKey", "in": "header", "name": "client_id"},
                "clientSecret": {"type": "apiKey", "in": "header", "name": "client_secret"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearerApiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "sk_…"},
                "sessionToken": {"type": "http", "scheme": "bearer", "bearerFormat": "st_…"},
                "vitalApiKey": {"type": "apiKey", "in": "header", "name": "x-vital-api-key"},
            },
        },
    }
