"""Outbound safety, the rules: URLs a client gives never reach loopback, private, link-local
or metadata addresses. Blocked requests are refused before any connection is made."""

from __future__ import annotations

import ipaddress

import pytest

from shared.infra.outbound import BlockedDestination, OutboundClient, is_forbidden


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "ftp://example.com/",
    ],
)
async def test_forbidden_addresses_are_refused(guarded: OutboundClient, url: str) -> None:
    with pytest.raises(BlockedDestination):
        await guarded.request("GET", url)


def test_the_address_rules() -> None:
    assert is_forbidden(ipaddress.ip_address("169.254.169.254"))
    assert is_forbidden(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert not is_forbidden(ipaddress.ip_address("93.184.216.34"))
