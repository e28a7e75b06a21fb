"""The proxy's rules on their own: which paths stay below the app's API, which headers go on."""

from __future__ import annotations

import pytest

from shared.proxy.models import UnsafePath
from shared.proxy.service import check_path, request_headers, response_headers, target_url

BASE = "https://api.example.com/v2"


@pytest.mark.parametrize(
    ("raw_path", "raw_query", "expected"),
    [
        ("contacts", "", f"{BASE}/contacts"),
        ("contacts/7/", "", f"{BASE}/contacts/7/"),
        ("", "", f"{BASE}/"),
        ("files/a%20b.txt", "x=1&x=2", f"{BASE}/files/a%20b.txt?x=1&x=2"),
        ("users/ada%40example.com", "", f"{BASE}/users/ada%40example.com"),
        ("sheets/s1/values/A1:B2", "", f"{BASE}/sheets/s1/values/A1:B2"),
        ("v..1/x...y", "", f"{BASE}/v..1/x...y"),
    ],
)
def test_safe_paths_join_below_the_base(raw_path: str, raw_query: str, expected: str) -> None:
    assert target_url(api_base=BASE, raw_path=raw_path, raw_query=raw_query, auth_query={}) == (
        expected
    )


@pytest.mark.parametrize(
    "raw_path",
    [
        "..",
        "a/../..",
        "%2E%2e/x",
        ".%2e/x",
        "./x",
        "a/%2e/b",
        "a%2fb",
        "a%5Cb",
        "a\\b",
        "/host/x",
        "a//b",
        "@host",
        "a/b@host",
        "https://host/x",
        "host:443/x",
        "%252e%252e/x",
        "a\tb",
        "a\x00b",
    ],
)
def test_paths_that_could_leave_the_base_are_refused(raw_path: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(raw_path)
    with pytest.raises(UnsafePath):
        target_url(api_base=BASE, raw_path=raw_path, raw_query="", auth_query={})


def test_credential_parameters_replace_the_callers_of_the_same_name() -> None:
    url = target_url(
        api_base=BASE, raw_path="x", raw_query="key=mine&q=a+b", auth_query={"key": "secret"}
    )
    assert url == f"{BASE}/x?q=a+b&key=secret"


def test_request_headers_drop_linkport_credentials_and_hop_by_hop_ones() -> None:
    sent = request_headers(
        [
            ("Host", "linkport.example"),
            ("Authorization", "Bearer sk_mine"),
            ("X-API-Key", "sk_mine"),
            ("client_id", "pc_1"),
            ("client_secret", "cs_1"),
            ("Cookie", "a=b"),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Linkport-Connection-Id", "c"),
            ("Content-Type", "application/json"),
            ("X-Token", "from-caller"),
            ("Accept-Encoding", "gzip"),
        ],
        {"X-Token": "from-connection"},
    )
    assert sent == [
        ("Content-Type", "application/json"),
        ("Accept-Encoding", "gzip"),
        ("X-Token", "from-connection"),
    ]


def test_without_accept_encoding_the_app_is_asked_for_none() -> None:
    assert request_headers([], {}) == [("Accept-Encoding", "identity")]


def test_response_headers_drop_cookies_cors_and_hop_by_hop_ones() -> None:
    kept = response_headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", "12"),
            ("Set-Cookie", "s=1"),
            ("Access-Control-Allow-Origin", "*"),
            ("Strict-Transport-Security", "max-age=1"),
            ("Connection", "close"),
            ("Keep-Alive", "timeout=5"),
            ("Retry-After", "7"),
            ("Link", "<https://api.example.com/v2/x?page=2>; rel=next"),
        ]
    )
    assert [k for k, _ in kept] == ["Content-Type", "Content-Length", "Retry-After", "Link"]
