"""``/openapi.json`` promises what the handlers do: every status a handler answers with is
declared (and so documented), every path documents its 405 with ``Allow``, every body is
required."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import pytest

from services.gateway.endpoints import Endpoint
from services.gateway.openapi import build_openapi
from services.gateway.routes import all_endpoints

ENDPOINTS = all_endpoints()


def _reply_statuses(endpoint: Endpoint) -> set[int]:
    """The statuses of every ``Reply(model, status)`` the handler's source builds."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint.handler)))
    statuses: set[int] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Reply"):
            continue
        status = node.args[1] if len(node.args) > 1 else node.keywords[0].value
        found = [
            n.value
            for n in ast.walk(status)
            if isinstance(n, ast.Constant) and isinstance(n.value, int)
        ]
        assert found, f"{endpoint.operation_id}: write a Reply's status as a literal"
        statuses.update(found)
    return statuses


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.operation_id)
def test_every_status_a_handler_answers_with_is_declared(endpoint: Endpoint) -> None:
    undeclared = _reply_statuses(endpoint) - set(endpoint.statuses)
    assert not undeclared, (
        f"{endpoint.method} {endpoint.path} answers {sorted(undeclared)}: "
        "declare them with also={status: 'when'}"
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_openapi(ENDPOINTS, title="t", version="0")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.operation_id)
def test_the_document_lists_every_status(endpoint: Endpoint, spec: dict[str, Any]) -> None:
    responses = spec["paths"][endpoint.path][endpoint.method.lower()]["responses"]
    if endpoint.response is not None:
        assert {str(s) for s in endpoint.statuses} <= set(responses)
    assert responses["405"] == {"$ref": "#/components/responses/MethodNotAllowed"}
    assert "default" in responses


def test_405_is_documented_with_allow(spec: dict[str, Any]) -> None:
    not_allowed = spec["components"]["responses"]["MethodNotAllowed"]
    assert not_allowed["headers"]["Allow"]["required"] is True


def test_posted_200s_are_documented(spec: dict[str, Any]) -> None:
    """The three POST routes that answer 201 when they create and 200 when they find."""
    for path in ("/v1/linked-accounts", "/v1/configs", "/v1/event-definitions"):
        assert {"200", "201"} <= set(spec["paths"][path]["post"]["responses"]), path


def test_every_body_is_required(spec: dict[str, Any]) -> None:
    bodies = [
        op["requestBody"]
        for item in spec["paths"].values()
        for op in item.values()
        if "requestBody" in op
    ]
    assert bodies
    assert all(body["required"] is True for body in bodies)
