"""Per-client settings: branding, callback URL, redirect allow-list."""

from __future__ import annotations

from tests.helpers import Api


async def test_read_and_change_settings(acme: Api) -> None:
    current = await acme.call("GET", "/v1/settings")
    assert current.status == 200
    assert current.body == {
        "client_id": acme.credentials.client_id,
        "environment": "test",
        "name": "Acme",
        "color": None,
        "callback_url": None,
        "allowed_redirect_urls": [],
        "allowed_origins": None,
    }
    change = {
        "name": "Acme Health",
        "color": "#112233",
        "callback_url": "https://acme.test/callback",
        "allowed_redirect_urls": ["https://acme.test/a", "http://localhost:3000/done"],
    }
    changed = await acme.call("PATCH", "/v1/settings", change)
    assert changed.status == 200
    assert {k: changed.body[k] for k in change} == change
    assert (await acme.call("GET", "/v1/settings")).body == changed.body


async def test_bad_settings_are_422_and_change_nothing(acme: Api) -> None:
    for body, field in [
        ({"color": "blue"}, "color"),
        ({"callback_url": "javascript:alert(1)"}, "callback_url"),
        ({"allowed_redirect_urls": ["https://ok.test", "not a url"]}, "allowed_redirect_urls.1"),
        ({"allowed_redirect_urls": ["https://a.test/#frag"]}, "allowed_redirect_urls.0"),
        ({"name": ""}, "name"),
        ({"name": "ok", "unknown": 1}, "unknown"),
    ]:
        reply = await acme.call("PATCH", "/v1/settings", body)
        assert reply.status == 422, body
        assert reply.body["error"]["field"] == field, body
    assert (await acme.call("GET", "/v1/settings")).body["name"] == "Acme"


async def test_settings_belong_to_one_tenant(acme: Api, globex: Api) -> None:
    await acme.call("PATCH", "/v1/settings", {"color": "#ffffff"})
    assert (await globex.call("GET", "/v1/settings")).body["color"] is None
