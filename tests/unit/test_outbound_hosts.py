"""The SSRF guard reads hosts as the socket layer does: every spelling of a forbidden address
is refused before anything is sent, whatever the HTTP library would have made of it."""

from __future__ import annotations

import ipaddress

import pytest

from shared.infra.outbound import BlockedDestination, check_url, host_address, is_forbidden

LOOPBACK_SPELLINGS = [
    "2130706433",  # decimal
    "017700000001",  # octal, one part
    "0177.0.0.1",  # octal parts
    "0x7f.0.0.1",  # hex part
    "0x7f000001",  # hex, one part
    "127.1",  # short form
    "127.0.1",
    "0",  # 0.0.0.0
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",  # NAT64 (RFC 6052)
    "[64:ff9b:1::7f00:1]",  # local-use NAT64 (RFC 8215)
    "[2002:7f00:1::]",  # 6to4 carrying 127.0.0.1
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[fe80::1%25eth0]",  # link-local with a zone
]
METADATA_SPELLINGS = ["169.254.169.254", "2852039166", "0xa9.0xfe.0xa9.0xfe", "[::ffff:a9fe:a9fe]"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + METADATA_SPELLINGS)
def test_every_spelling_of_a_forbidden_address_is_refused(host: str) -> None:
    with pytest.raises(BlockedDestination):
        check_url(f"http://{host}:8080/path", ())


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1"),
        ("example.com", None),
        ("deadbeef", None),  # a name, not a number without its 0x
        ("1.2.3.4.example", None),
    ],
)
def test_hosts_are_read_as_the_socket_layer_reads_them(host: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address is not None else None
    assert host_address(host) == expected


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://example.com/",
        "dict://127.0.0.1:11211/",
        "//example.com/no-scheme",
        "http:///no-host",
        "http://example.com:99999/",
    ],
)
def test_only_absolute_http_urls_pass(url: str) -> None:
    with pytest.raises(BlockedDestination):
        check_url(url, ())


def test_an_allow_listed_network_opens_every_spelling_of_its_addresses() -> None:
    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    for host in ("127.0.0.1", "2130706433", "127.1", "[::ffff:127.0.0.1]"):
        check_url(f"http://{host}/", loopback)


def test_public_addresses_pass_in_every_spelling() -> None:
    for host in ("93.184.216.34", "1572395042", "[::ffff:5db8:d822]", "example.com"):
        check_url(f"https://{host}/", ())


def test_embedded_ipv4_is_judged_by_the_address_it_carries() -> None:
    assert is_forbidden(ipaddress.ip_address("64:ff9b::a00:1"))  # NAT64 of 10.0.0.1
    assert not is_forbidden(ipaddress.ip_address("64:ff9b::5db8:d822"))  # NAT64 of a public one
    assert is_forbidden(ipaddress.ip_address("2002:a9fe:a9fe::"))  # 6to4 of the metadata IP
