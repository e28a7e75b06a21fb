"""The error contract: every failure is a JSON body naming the problem, never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway.app import create_app
from shared.config import Settings
from tests.helpers import Api, AppFactory

LINK_PATH = "/link/token/create"


async def test_malformed_json_is_a_400(acme: Api) -> None:
    reply = await acme.call(
        "POST", LINK_PATH, data=b'{"user_id": ', headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.body["success"] is False
    assert reply.body["error"]["code"] == "invalid_json"


async def test_body_that_is_not_an_object_is_a_422(acme: Api) -> None:
    reply = await acme.call(
        "POST", LINK_PATH, data=b"[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 422
    assert reply.body["error"]["field"] == "body"


async def test_wrong_content_type_is_a_415(acme: Api) -> None:
    reply = await acme.call("POST", LINK_PATH, data=b"user_id=u&org_id=o")
    assert reply.status == 415
    assert reply.body["error"]["code"] == "unsupported_media_type"


async def test_wrong_field_type_names_the_field(acme: Api) -> None:
    reply = await acme.call("POST", LINK_PATH, {"user_id": 5, "org_id": "o"})
    assert reply.status == 422
    assert reply.body["error"]["field"] == "user_id"
    assert reply.body["error"]["details"][0]["field"] == "user_id"


async def test_every_problem_is_listed_in_details(acme: Api) -> None:
    reply = await acme.call("POST", LINK_PATH, {"surprise": True})
    fields = {d["field"] for d in reply.body["error"]["details"]}
    assert fields == {"user_id", "org_id", "surprise"}


async def test_oversized_body_is_refused_from_its_header(
    make_client: AppFactory, acme: Api
) -> None:
    small = await make_client(max_body_bytes=1024)
    api = Api(small, acme.credentials, acme.tenant)
    body = b'{"user_id": "' + b"x" * 5000 + b'", "org_id": "o"}'
    reply = await api.call(
        "POST", LINK_PATH, data=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413
    assert reply.body["error"]["code"] == "payload_too_large"


async def test_oversized_chunked_body_is_cut_off(make_client: AppFactory, acme: Api) -> None:
    small = await make_client(max_body_bytes=1024)
    api = Api(small, acme.credentials, acme.tenant)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"user_id": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'", "org_id": "o"}'

    reply = await api.call(
        "POST", LINK_PATH, data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413


async def test_unknown_route_and_method_are_json(acme: Api) -> None:
    missing = await acme.call("GET", "/v1/nothing-here")
    assert missing.status == 404
    assert missing.body["error"]["code"] == "not_found"
    wrong_method = await acme.call("PUT", LINK_PATH, {})
    assert wrong_method.status == 405
    assert wrong_method.body["error"]["code"] == "method_not_allowed"


async def test_unexpected_exception_is_a_500_with_a_request_id_and_no_internals(
    make_client: AppFactory, settings: Settings
) -> None:
    app = create_app(settings)

    async def explode(_: web.Request) -> web.Response:
        raise RuntimeError("database password is hunter2")

    app.router.add_get("/explode", explode)
    client = await make_client(app)
    async with client.get("/explode") as response:
        body = await response.json()
        assert response.status == 500
        assert body["error"]["code"] == "internal_error"
        assert body["error"]["request_id"] == response.headers["X-Request-ID"]
        assert "hunter2" not in await response.text()


async def test_request_id_is_echoed_or_made_up(acme: Api) -> None:
    given = await acme.call("GET", "/healthz", headers={"X-Request-ID": "trace-123"})
    assert given.headers["X-Request-ID"] == "trace-123"
    unsafe = await acme.call("GET", "/healthz", headers={"X-Request-ID": "bad id\twith tab"})
    assert unsafe.headers["X-Request-ID"] != "bad id\twith tab"
    assert len(unsafe.headers["X-Request-ID"]) == 32
    error = await acme.call("GET", "/v1/orgs/x", headers={"X-Request-ID": "trace-456"})
    assert error.body["error"]["request_id"] == "trace-456"
