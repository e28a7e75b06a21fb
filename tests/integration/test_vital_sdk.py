"""Vital's official Python SDK (``vital`` on PyPI) against a live Linkport: a user through Link
(the sandbox's OAuth flow in a browser, a password provider), and every method of its ``link``,
``user`` and ``providers`` clients either working or answering a JSON 4xx that names what
Linkport does not offer."""

from __future__ import annotations

import asyncio
import inspect
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Api
from tests.link_browser import Browser, sign_in

# The SDK's pydantic models use v1-style configuration: pydantic warns when each is defined,
# and the suite turns warnings into errors. Load every module the tests use now, quietly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from vital import AsyncVital
    from vital.core.api_error import ApiError

    _loaded = AsyncVital(api_key="-", base_url="http://127.0.0.1:9")
    _CLIENTS = {"link": _loaded.link, "user": _loaded.user, "providers": _loaded.providers}

pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore:Valid config keys have changed in V2:UserWarning"),
]

README = Path(__file__).parents[2] / "README.md"
REDIRECT = "https://app.acme.test/vital"


def enum(value: str) -> Any:
    """A provider slug where the SDK's signature names its own enum (Fern enums accept any)."""
    return value


@pytest.fixture
async def vital(acme: Api) -> AsyncIterator[AsyncVital]:
    """The SDK as a Linkport user configures it: Linkport's URL and an API key of the client."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield AsyncVital(
            api_key=acme.credentials.api_key,
            base_url=str(acme.http.make_url("/")),
            httpx_client=http,
        )


@pytest.fixture
async def browser(acme: Api) -> AsyncIterator[Browser]:
    b = Browser(str(acme.http.make_url("/")))
    yield b
    await b.close()


async def test_a_user_connects_through_link_with_the_sdk(
    acme: Api, vital: AsyncVital, browser: Browser
) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [REDIRECT]})

    created = await vital.user.create(
        client_user_id="patient-1", fallback_time_zone="Europe/London"
    )
    user_id = created.user_id
    assert created.client_user_id == "patient-1"
    assert re.fullmatch(r"[0-9a-f-]{36}", user_id)
    user = await vital.user.get(user_id)
    assert user.team_id == str(acme.tenant.client_id)
    assert user.connected_sources == []
    assert user.fallback_time_zone is not None
    assert user.fallback_time_zone.id == "Europe/London"
    assert (await vital.user.get_by_client_user_id("patient-1")).user_id == user_id
    listed = await vital.user.get_all(offset=0, limit=10)
    assert (listed.total, [u.user_id for u in listed.users]) == (1, [user_id])
    # The same account is a linked account of the native API.
    assert (await acme.call("GET", "/v1/linked-accounts/patient-1")).status == 200

    catalog = {p.slug: p for p in await vital.providers.get_all()}
    assert catalog["sandbox"].auth_type == "oauth"
    assert catalog["sandbox_apikey"].auth_type == "password"
    assert "oura" in catalog

    token = await vital.link.token(
        user_id=user_id,
        provider=enum("sandbox"),
        redirect_url=f"{REDIRECT}?step=2",
        on_error="redirect",
        on_close="redirect",
    )
    assert token.link_token.startswith("lt_")
    assert token.link_web_url.startswith(f"{acme.http.make_url('/link')}?token={token.link_token}")
    offered = await vital.link.get_all_providers(vital_link_token=token.link_token)
    assert {"sandbox", "sandbox_apikey"} <= {p.slug for p in offered}

    # generate_oauth_link's oauth_url opens the hosted flow straight at the provider's sign-in.
    source = await vital.link.generate_oauth_link(
        enum("sandbox"), vital_link_token=token.link_token
    )
    assert source.slug == "sandbox"
    assert source.oauth_url is not None
    to_provider = await browser.get(source.oauth_url)
    assert to_provider.status == 303
    assert to_provider.location is not None
    assert "/sandbox/oauth/authorize?" in to_provider.location
    login = await browser.get(to_provider.location)
    back = await sign_in(browser, login)
    assert back.location is not None
    final = await browser.get(back.location)
    # The flow ends where Vital's flows end: redirect_url with state=success, no public token.
    assert final.location == f"{REDIRECT}?step=2&state=success"

    connected = await vital.user.get_connected_providers(user_id)
    [sandbox] = connected["providers"]
    assert (sandbox.slug, sandbox.status, sandbox.resource_availability) == (
        "sandbox",
        "connected",
        {},
    )
    assert [s.provider.slug for s in (await vital.user.get(user_id)).connected_sources] == [
        "sandbox"
    ]

    # A password provider (the sandbox's API-key app) connects without a browser.
    again = await vital.link.token(user_id=user_id)
    linked = await vital.link.connect_password_provider(
        enum("sandbox_apikey"),
        username="",
        password="helpdesk-key",
        vital_link_token=again.link_token,
    )
    assert (linked.state, linked.connected) == ("success", True)
    slugs = [p.slug for p in (await vital.user.get_connected_providers(user_id))["providers"]]
    assert slugs == ["sandbox", "sandbox_apikey"]
    metrics = await vital.user.get_team_metrics()
    assert (metrics.number_of_users, metrics.number_of_connected_sources) == (1, 2)

    assert (await vital.user.deregister_provider(user_id, enum("sandbox"))).success
    slugs = [p.slug for p in (await vital.user.get_connected_providers(user_id))["providers"]]
    assert slugs == ["sandbox_apikey"]

    await vital.user.patch(user_id, fallback_birth_date="1990-01-02", ingestion_start="2024-01-01")
    patched = await vital.user.get(user_id)
    assert patched.fallback_birth_date is not None
    assert patched.fallback_birth_date.value == "1990-01-02"
    assert patched.ingestion_start == "2024-01-01"

    assert (await vital.user.delete(user_id)).success
    with pytest.raises(ApiError) as gone:
        await vital.user.get(user_id)
    assert (gone.value.status_code, gone.value.body) == (404, {"detail": "User not found"})
    assert (await acme.call("GET", "/v1/linked-accounts/patient-1")).status == 404


async def test_a_cancelled_flow_ends_with_vitals_error_parameters(
    acme: Api, vital: AsyncVital, browser: Browser
) -> None:
    await acme.call("PATCH", "/v1/settings", {"allowed_redirect_urls": [REDIRECT]})
    user = await vital.user.create(client_user_id="patient-2")
    token = await vital.link.token(user_id=user.user_id, redirect_url=REDIRECT)
    picker = await browser.follow(await browser.get(token.link_web_url))
    cancelled = await browser.post("/link/session/cancel", {"csrf": picker.hidden_fields()["csrf"]})
    assert cancelled.status == 303
    assert cancelled.query == {
        "state": "error",
        "error_type": "user_cancelled",
        "error": "You cancelled.",
    }


# Every method of the three clients: (arguments, whether Linkport offers it). ------------------

_PERSON = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone_number": "+441234567890",
    "gender": "female",
    "dob": "1990-01-02",
    "address": {
        "first_line": "1 Main St",
        "country": "GB",
        "zip": "N1",
        "city": "London",
        "state": "LDN",
    },
}


def _calls(user: str, other: str, token: str, password_tokens: list[str]) -> dict[str, Any]:
    """``client.method`` → (positional args, keyword args, offered)."""
    return {
        "link.token": ((), {"user_id": user}, True),
        "link.is_token_valid": ((), {"token": token}, True),
        "link.code_create": ((), {"user_id": user}, False),
        "link.start_connect": ((), {"link_token": token, "provider": enum("sandbox")}, True),
        "link.token_state": ((), {"vital_link_token": token}, True),
        "link.email_auth": (
            (),
            {
                "email": "ada@example.com",
                "provider": enum("sandbox"),
                "auth_type": enum("email"),
                "vital_link_token": token,
            },
            False,
        ),
        "link.password_auth": (
            (),
            {
                "username": "",
                "password": "k1",
                "provider": enum("sandbox_apikey"),
                "auth_type": enum("password"),
                "vital_link_token": password_tokens[0],
            },
            True,
        ),
        "link.generate_oauth_link": ((enum("sandbox"),), {"vital_link_token": token}, True),
        "link.connect_password_provider": (
            (enum("sandbox_apikey"),),
            {"username": "", "password": "k2", "vital_link_token": password_tokens[1]},
            True,
        ),
        "link.complete_password_provider_mfa": (
            (enum("sandbox_apikey"),),
            {"mfa_code": "123456", "vital_link_token": token},
            False,
        ),
        "link.connect_email_auth_provider": (
            (),
            {"email": "ada@example.com", "vital_link_token": token},
            False,
        ),
        "link.get_all_providers": ((), {"vital_link_token": token}, True),
        "link.connect_manual_provider": ((enum("manual"),), {"user_id": user}, False),
        "link.connect_demo_provider": ((), {"user_id": user, "provider": enum("oura")}, False),
        "link.list_bulk_ops": ((), {}, False),
        "link.bulk_import": ((), {"provider": enum("oura"), "connections": []}, False),
        "link.bulk_trigger_historical_pull": (
            (),
            {"user_ids": [user], "provider": enum("oura")},
            False,
        ),
        "link.bulk_export": ((), {"provider": enum("oura")}, False),
        "link.bulk_pause": ((), {"user_ids": [user], "provider": enum("oura")}, False),
        "user.get_all": ((), {"offset": 0, "limit": 5}, True),
        "user.create": ((), {"client_user_id": "patient-4"}, True),
        "user.get_team_metrics": ((), {}, True),
        "user.get_connected_providers": ((user,), {}, True),
        "user.get_latest_user_info": ((user,), {}, False),
        "user.create_insurance": (
            (user,),
            {
                "payor_code": "P1",
                "member_id": "M1",
                "relationship": enum("Self"),
                "insured": _PERSON,
            },
            False,
        ),
        "user.get_latest_insurance": ((user,), {}, False),
        "user.upsert_user_info": ((user,), dict(_PERSON), False),
        "user.get_by_client_user_id": (("patient-3",), {}, True),
        "user.deregister_provider": ((user, enum("sandbox_apikey")), {}, True),
        "user.get": ((user,), {}, True),
        "user.delete": ((other,), {}, True),
        "user.patch": ((user,), {"fallback_time_zone": "Europe/Paris"}, True),
        "user.undo_delete": ((), {"user_id": other}, False),
        "user.refresh": ((user,), {}, False),
        "user.get_devices": ((user,), {}, False),
        "user.get_device": ((user, "device-1"), {}, False),
        "user.get_user_sign_in_token": ((user,), {}, False),
        "user.create_portal_url": ((user,), {"context": enum("launch")}, False),
        "providers.get_all": ((), {}, True),
    }


def _methods() -> set[str]:
    return {
        f"{name}.{method}"
        for name, client in _CLIENTS.items()
        for method, _ in inspect.getmembers(client, inspect.iscoroutinefunction)
        if not method.startswith("_")
    }


async def test_every_link_user_and_providers_method_works_or_says_what_is_not_offered(
    acme: Api, vital: AsyncVital
) -> None:
    user = (await vital.user.create(client_user_id="patient-3")).user_id
    other = (await vital.user.create(client_user_id="patient-3b")).user_id
    token = (await vital.link.token(user_id=user)).link_token
    password_tokens = [(await vital.link.token(user_id=user)).link_token for _ in range(2)]
    calls = _calls(user, other, token, password_tokens)
    assert set(calls) == _methods()  # every method of the three clients is here

    refusals: dict[str, ApiError | None] = {}
    for name, (args, kwargs, _) in calls.items():
        client, method = name.split(".")
        call: Callable[..., Awaitable[Any]] = getattr(getattr(vital, client), method)
        try:
            await call(*args, **kwargs, request_options={"max_retries": 0})
            refusals[name] = None
        except ApiError as exc:
            refusals[name] = exc
    works = [name for name, e in refusals.items() if e is None]
    refused = {name: e for name, e in refusals.items() if e is not None}
    assert works == [name for name, (_, _, offered) in calls.items() if offered], refused
    for name, error in refused.items():
        assert error.status_code == 400, (name, error.status_code, error.body)
        detail = error.body["detail"]
        assert detail["error_type"] == "not_offered_by_linkport", name
        assert re.match(r"Linkport (does not offer|has no) ", detail["error_message"]), name
    # The closing count: 18 of the 39 methods work, the 21 others answer a clear 400.
    assert (len(works), len(refused)) == (18, 21)


# The README's example runs as printed. --------------------------------------------------------


def readme_vital_example() -> str:
    section = README.read_text().split("### Coming from Vital", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None
    return found.group(1)


async def test_the_readme_example_runs(acme: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await acme.call(
        "PATCH", "/v1/settings", {"allowed_redirect_urls": ["https://app.example.com/linked"]}
    )
    monkeypatch.setenv("LINKPORT_URL", str(acme.http.make_url("/")).rstrip("/"))
    monkeypatch.setenv("API_KEY", acme.credentials.api_key)
    printed: list[str] = []
    namespace: dict[str, Any] = {"print": lambda *a: printed.append(" ".join(map(str, a)))}
    # The example uses the SDK's synchronous client: it runs beside the gateway's event loop.
    try:
        await asyncio.to_thread(
            exec, compile(readme_vital_example(), "README.md", "exec"), namespace
        )
    finally:
        if "client" in namespace:  # the example leaves closing its HTTP connections to exit
            namespace["client"]._client_wrapper.httpx_client.httpx_client.close()
    assert any("/link?token=lt_" in line for line in printed), printed
    assert (await acme.call("GET", "/v1/linked-accounts/patient-42")).status == 404  # deleted
