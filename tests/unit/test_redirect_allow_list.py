"""Where the hosted flow may send the end user back to: an allow-listed URL or the callback
URL, compared without the query (which is the caller's), never by prefix."""

from __future__ import annotations

import pytest

from shared.clients.models import ClientSettings
from shared.clients.service import is_redirect_allowed


def _settings(allowed: list[str], callback_url: str | None = None) -> ClientSettings:
    return ClientSettings(
        public_client_id="ci_test_acme",
        environment="test",
        name="Acme",
        color=None,
        callback_url=callback_url,
        allowed_redirect_urls=tuple(allowed),
    )


ACME = _settings(["https://app.acme.test/linked"], callback_url="https://acme.test/callback")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://app.acme.test/linked", True),
        ("https://app.acme.test/linked?step=2&token=x", True),  # the query is the caller's
        ("https://APP.Acme.TEST/linked", True),  # host names are case-insensitive
        ("https://acme.test/callback?state=1", True),  # the callback URL counts too
        ("http://app.acme.test/linked", False),  # scheme
        ("https://app.acme.test:8443/linked", False),  # port
        ("https://app.acme.test/Linked", False),  # paths are case-sensitive
        ("https://app.acme.test/linked/more", False),  # not a prefix match
        ("https://app.acme.test/", False),
        ("https://app.acme.test.evil.test/linked", False),
        ("https://app.acme.test@evil.test/linked", False),  # userinfo trick
        ("javascript:alert(1)//app.acme.test/linked", False),
    ],
)
def test_only_the_exact_urls_are_allowed(url: str, allowed: bool) -> None:
    assert is_redirect_allowed(ACME, url) is allowed


def test_an_origin_without_a_path_means_its_root() -> None:
    assert is_redirect_allowed(_settings(["https://acme.test"]), "https://acme.test/?a=1")
    assert is_redirect_allowed(_settings(["https://acme.test/"]), "https://acme.test")


def test_nothing_is_allowed_until_the_client_lists_it() -> None:
    assert not is_redirect_allowed(_settings([]), "https://app.acme.test/linked")
