"""The OAuth2 client's pure parts (shared/connectors/oauth.py): authorization URLs with the
catalog's quirks, and token answers in every shape providers use to say yes or no."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from shared.connectors.catalog import OAuthSpec, load_catalog
from shared.connectors.oauth import (
    OAuthError,
    authorization_url,
    new_pkce,
    parse_token_answer,
    s256,
)
from tests.fakes.providers import rewrite_catalog

SPEC = OAuthSpec(authorize_url="-", token_url="-", scopes=["a", "b"])


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_authorization_url_carries_the_rfc_6749_and_pkce_parameters() -> None:
    verifier, challenge = new_pkce()
    url = authorization_url(
        spec=SPEC,
        authorize_url="https://idp.example/authorize?tenant=t1",
        client_id="cid",
        redirect_uri="https://linkport.example/link/oauth/callback",
        state="st4te",
        scopes=["a", "b"],
        code_challenge=challenge,
    )
    assert url.startswith("https://idp.example/authorize?")
    assert _query(url) == {
        "tenant": ["t1"],
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://linkport.example/link/oauth/callback"],
        "scope": ["a b"],
        "state": ["st4te"],
        "code_challenge": [challenge],
        "code_challenge_method": ["S256"],
    }
    assert 43 <= len(verifier) <= 128
    assert s256(verifier) == challenge


def test_the_scope_separator_extra_params_and_http_urls_are_kept() -> None:
    url = authorization_url(
        spec=SPEC.model_copy(update={"scope_separator": ","}),
        authorize_url="http://127.0.0.1:8080/authorize",
        client_id="cid",
        redirect_uri="http://127.0.0.1:9000/cb",
        state="s",
        scopes=["user.info", "user.metrics"],
        code_challenge=None,
        extra_params={"aud": "http://127.0.0.1:8080/fhir", "prompt": "consent"},
    )
    assert url.startswith("http://127.0.0.1:8080/authorize?")
    query = _query(url)
    assert query["scope"] == ["user.info,user.metrics"]
    assert query["aud"] == ["http://127.0.0.1:8080/fhir"]
    assert query["prompt"] == ["consent"]
    assert "code_challenge" not in query


def test_a_plain_token_answer_is_read_with_its_extras() -> None:
    tokens, answer = parse_token_answer(
        SPEC,
        status=200,
        body=orjson.dumps(
            {
                "access_token": "at",
                "token_type": "bearer",
                "refresh_token": "rt",
                "expires_in": "3600",
                "scope": "a",  # narrower than asked: not an error
                "team": {"id": 42},
            }
        ),
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("at", "rt", 3600)
    assert tokens.scope == "a"
    assert tokens.value_at("team.id") == "42"
    assert answer["team"] == {"id": 42}


def test_a_wrapped_token_answer_is_unwrapped() -> None:
    spec = SPEC.model_copy(update={"token_response_path": "body"})
    tokens, answer = parse_token_answer(
        spec,
        status=200,
        body=orjson.dumps(
            {"status": 0, "body": {"access_token": "at", "userid": 363, "expires_in": 10800}}
        ),
    )
    assert tokens.access_token == "at"
    assert tokens.value_at("userid") == "363"
    assert answer["status"] == 0


@pytest.mark.parametrize(
    ("spec", "status", "body", "code"),
    [
        (SPEC, 400, {"error": "invalid_grant", "error_description": "used"}, "invalid_grant"),
        (SPEC, 401, {"error": "invalid_client"}, "invalid_client"),
        # Slack: HTTP 200 and ok false.
        (SPEC, 200, {"ok": False, "error": "invalid_code"}, "invalid_code"),
        # GitHub: HTTP 200 and an error.
        (SPEC, 200, {"error": "bad_verification_code"}, "bad_verification_code"),
        # Withings: HTTP 200, the error beside the (missing) body, in free text.
        (
            SPEC.model_copy(update={"token_response_path": "body"}),
            200,
            {"status": 601, "error": "Invalid Params: invalid code"},
            "provider_error",
        ),
        (SPEC, 200, {"token_type": "bearer"}, "missing_token"),
        (SPEC, 502, {"message": "bad gateway"}, "invalid_response"),
    ],
)
def test_every_refusal_shape_is_an_oauth_error(
    spec: OAuthSpec, status: int, body: dict[str, object], code: str
) -> None:
    with pytest.raises(OAuthError) as raised:
        parse_token_answer(spec, status=status, body=orjson.dumps(body))
    assert raised.value.code == code


def test_a_body_that_is_not_json_is_an_oauth_error() -> None:
    with pytest.raises(OAuthError) as raised:
        parse_token_answer(SPEC, status=500, body=b"<html>oops</html>")
    assert raised.value.code == "invalid_response"


def test_rewritten_catalog_points_every_third_party_app_at_the_fake(tmp_path: Path) -> None:
    shipped = load_catalog()
    folder = rewrite_catalog(shipped, "http://127.0.0.1:1234", tmp_path)
    rewritten = load_catalog(str(folder))
    for app in shipped:
        moved = rewritten.get(app.slug)
        assert moved is not None
        if app.oauth is None or app.oauth.authorize_url.startswith("{base_url}"):
            if not (app.api_base_url or "").startswith(("{base_url}", "{")):
                assert (moved.api_base_url or "").startswith(
                    f"http://127.0.0.1:1234/{app.slug}/api"
                )
            continue
        assert moved.oauth is not None
        assert moved.oauth.authorize_url == f"http://127.0.0.1:1234/{app.slug}/oauth/authorize"
        assert moved.oauth.token_url == f"http://127.0.0.1:1234/{app.slug}/oauth/token"
        # Everything but the hosts is the app's own.
        same = {"authorize_url", "token_url", "revoke_url"}
        assert moved.oauth.model_dump(exclude=same) == app.oauth.model_dump(exclude=same)
        assert moved.model_dump(exclude={"oauth", "api_base_url"}) == app.model_dump(
            exclude={"oauth", "api_base_url"}
        )
