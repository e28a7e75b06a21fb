"""The rules behind a connection's health and its revocation: what a token endpoint's refusal
makes of a connection, which statuses may be used, what an RFC 7009 request carries, and
when the workers' connection crons run."""

from __future__ import annotations

import base64

import pytest

from shared.connections.credentials import refusal_status
from shared.connections.jobs import every
from shared.connections.models import ConnectionStatus
from shared.connections.revocation import revocation_request
from shared.connectors.catalog import App, OAuthSpec
from shared.connectors.oauth import OAuthClient, OAuthError

CLIENT = OAuthClient("my client", "s3cret/+", [])
CREDS = {"access_token": "at-1", "refresh_token": "rt-1"}


def app(**oauth: object) -> App:
    spec = {
        "authorize_url": "https://{subdomain}.example.com/authorize",
        "token_url": "https://{subdomain}.example.com/token",
        "revoke_url": "https://{subdomain}.example.com/revoke",
        **oauth,
    }
    return App(
        slug="example",
        name="Example",
        description="-",
        categories=[],
        auth_kind="oauth2",
        oauth=OAuthSpec.model_validate(spec),
    )


@pytest.mark.parametrize(
    ("code", "description", "status"),
    [
        ("invalid_grant", "token endpoint answered 400", ConnectionStatus.NEEDS_REAUTH),
        ("unauthorized_client", "", ConnectionStatus.NEEDS_REAUTH),
        ("invalid_client", "", ConnectionStatus.NEEDS_REAUTH),
        ("invalid_grant", "Token has been expired or revoked.", ConnectionStatus.REVOKED),
        ("token_revoked", "", ConnectionStatus.REVOKED),
        ("server_error", "", None),
        ("temporarily_unavailable", "", None),
        ("token_request_failed", "token endpoint unreachable (ClientConnectorError)", None),
        ("invalid_response", "token endpoint answer has no access_token", None),
    ],
)
def test_a_refusal_says_what_becomes_of_the_connection(
    code: str, description: str, status: ConnectionStatus | None
) -> None:
    assert refusal_status(OAuthError(code, description)) is status


def test_active_and_error_connections_are_used_the_others_wait_for_the_user() -> None:
    usable = {s for s in ConnectionStatus if s.usable}
    assert usable == {ConnectionStatus.ACTIVE, ConnectionStatus.ERROR}


def test_a_revocation_sends_the_refresh_token_with_basic_client_authentication() -> None:
    request = revocation_request(
        app(), CREDS, CLIENT, base_url="https://lp.test", fields={"subdomain": "acme"}
    )
    assert request is not None
    assert request.url == "https://acme.example.com/revoke"
    assert not request.from_catalog  # built from what the user typed: fully guarded
    assert request.form == {"token": "rt-1", "token_type_hint": "refresh_token"}
    # RFC 6749 §2.3.1: each part form-urlencoded before they are joined.
    pair = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert pair == "my+client:s3cret%2F%2B"
    assert "s3cret" not in repr(request)


def test_a_revocation_may_send_the_access_token_with_the_client_in_the_form() -> None:
    request = revocation_request(
        app(token_auth="client_secret_post", revoke_token="access_token"),
        CREDS,
        CLIENT,
        base_url="",
        fields={"subdomain": "acme"},
    )
    assert request is not None
    assert request.form == {
        "token": "at-1",
        "token_type_hint": "access_token",
        "client_id": "my client",
        "client_secret": "s3cret/+",
    }
    assert "Authorization" not in request.headers


def test_without_a_refresh_token_the_access_token_is_revoked() -> None:
    request = revocation_request(
        app(), {"access_token": "at-1"}, CLIENT, base_url="", fields={"subdomain": "acme"}
    )
    assert request is not None
    assert request.form == {"token": "at-1", "token_type_hint": "access_token"}


def test_a_delete_revocation_puts_the_token_in_the_url() -> None:
    """HubSpot: DELETE /oauth/v1/refresh-tokens/{token}."""
    request = revocation_request(
        app(revoke_url="https://api.example.com/refresh-tokens/{token}", revoke_method="DELETE"),
        {**CREDS, "refresh_token": "rt/1 x"},
        CLIENT,
        base_url="",
        fields={},
    )
    assert request is not None
    assert request.method == "DELETE"
    assert request.url == "https://api.example.com/refresh-tokens/rt%2F1%20x"
    assert request.from_catalog  # {token} is no field the user typed
    assert request.form == {}
    assert "rt/1" not in repr(request)


def test_a_get_revocation_sends_only_the_token_in_the_query() -> None:
    """Oura: GET /oauth/revoke?access_token=… (no client credentials in a URL)."""
    request = revocation_request(
        app(revoke_method="GET", revoke_param="access_token", revoke_token="access_token"),
        CREDS,
        CLIENT,
        base_url="",
        fields={"subdomain": "acme"},
    )
    assert request is not None
    assert request.method == "GET"
    assert request.url == "https://acme.example.com/revoke?access_token=at-1"
    assert "Authorization" not in request.headers
    assert "s3cret" not in request.url


def test_a_json_revocation_names_its_parameter_as_the_app_does() -> None:
    """Intuit and Notion: a JSON body; Strava: a form field named access_token."""
    intuit = revocation_request(
        app(revoke_request_format="json"), CREDS, CLIENT, base_url="", fields={"subdomain": "a"}
    )
    assert intuit is not None
    assert intuit.as_json
    assert intuit.form == {"token": "rt-1", "token_type_hint": "refresh_token"}
    strava = revocation_request(
        app(
            revoke_param="access_token",
            revoke_token="access_token",
            token_auth="client_secret_post",
        ),
        CREDS,
        CLIENT,
        base_url="",
        fields={"subdomain": "a"},
    )
    assert strava is not None
    assert not strava.as_json
    assert strava.form == {
        "access_token": "at-1",
        "client_id": "my client",
        "client_secret": "s3cret/+",
    }


def test_nothing_is_sent_without_an_endpoint_or_a_token() -> None:
    assert revocation_request(app(revoke_url=None), CREDS, CLIENT, base_url="", fields={}) is None
    assert revocation_request(app(), {}, CLIENT, base_url="", fields={}) is None


@pytest.mark.parametrize(
    ("seconds", "minute", "second"),
    [
        (1, None, set(range(60))),
        (15, None, {0, 15, 30, 45}),
        (60, set(range(60)), {0}),
        (300, set(range(0, 60, 5)), {0}),
    ],
)
def test_crons_run_every_so_many_seconds(
    seconds: int, minute: set[int] | None, second: set[int]
) -> None:
    assert every(seconds) == (minute, second)
