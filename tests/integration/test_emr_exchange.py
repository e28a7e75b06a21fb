"""The EMR API reference's exchange: ``GET /link/token/exchange?public_token=…`` with the
``client_id`` / ``client_secret`` headers answers ``{"success": true, "token": …}``."""

from __future__ import annotations

from urllib.parse import quote

from tests.helpers import Api
from tests.link_browser import Browser, link_token, run_flow, shown_public_token


async def public_token(api: Api, user_id: str = "user_12345") -> str:
    browser = Browser(str(api.http.make_url("/")))
    try:
        page = await run_flow(browser, await link_token(api, {"user_id": user_id, "org_id": "o1"}))
    finally:
        await browser.close()
    return shown_public_token(page)


async def test_get_exchange_answers_the_access_token_as_token(acme: Api) -> None:
    token = await public_token(acme)
    for path in ("/link/token/exchange", "/v1/link/token/exchange"):
        exchanged = await acme.call("GET", f"{path}?public_token={quote(token)}", auth="secret")
        if path == "/link/token/exchange":
            assert exchanged.status == 200, exchanged.body
            assert exchanged.body["success"] is True
            assert exchanged.body["token"].startswith("at_")
            assert exchanged.body["token"] == exchanged.body["access_token"]
            assert exchanged.body["user_id"] == "user_12345"
            access_token = exchanged.body["token"]
        else:  # single use, whichever form used it
            assert exchanged.status == 400
            assert exchanged.body["error"]["code"] == "invalid_public_token"
    # The access token is the connection's: update mode finds it.
    update = await acme.call(
        "POST",
        "/link/token/create",
        {"user_id": "user_12345", "org_id": "o1", "access_token": access_token},
        auth="secret",
    )
    assert update.status == 200


async def test_get_exchange_refuses_what_post_refuses(acme: Api, globex: Api) -> None:
    missing = await acme.call("GET", "/link/token/exchange", auth="secret")
    assert missing.status == 422
    assert missing.body["error"]["field"] == "public_token"
    unknown = await acme.call("GET", "/link/token/exchange?public_token=pt_nope", auth="secret")
    assert unknown.status == 400
    token = await public_token(acme)
    foreign = await globex.call("GET", f"/link/token/exchange?public_token={token}", auth="secret")
    assert foreign.status == 400  # another tenant's token is invalid, and stays usable
    assert (await acme.call("GET", f"/link/token/exchange?public_token={token}")).status == 200
    anonymous = await acme.call("GET", f"/link/token/exchange?public_token={token}", auth="none")
    assert anonymous.status == 401
