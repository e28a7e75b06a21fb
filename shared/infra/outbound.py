"""Outbound HTTP for URLs a client gives: never to loopback, private, link-local or metadata
addresses (checked on the resolved IPs of every hop) unless an operator allow-lists a
network; bounded in time and response size; redirects followed by hand, each hop checked."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5


class BlockedDestination(Exception):
    """The URL resolves to an address Linkport must not call."""


class ResponseTooLarge(Exception):
    """The response body is larger than allowed."""


@dataclass(frozen=True)
class OutboundResponse:
    """A finished response: status, headers, body (bounded)."""

    status: int
    headers: dict[str, str]
    body: bytes


def parse_networks(text: str) -> tuple[Network, ...]:
    """Operator allow-list: comma-separated CIDRs."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local (incl. cloud metadata), CGNAT, multicast, reserved, unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_forbidden(address.ipv4_mapped)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in ipaddress.ip_network("100.64.0.0/10")
    )


def _check(address: IPAddress, allowed: tuple[Network, ...]) -> None:
    if is_forbidden(address) and not any(address in net for net in allowed):
        raise BlockedDestination(f"destination address {address} is not allowed")


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves names and refuses any result that points somewhere forbidden (at connect time,
    so a name cannot pass the check and then resolve elsewhere)."""

    def __init__(self, allowed: tuple[Network, ...]) -> None:
        self._allowed = allowed
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            _check(ipaddress.ip_address(result["host"]), self._allowed)
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_url(url: str, allowed: tuple[Network, ...]) -> None:
    """Refuse a URL that is not http(s) or names a forbidden IP literal (names are checked
    by the GuardedResolver when connecting)."""
    _check_url(url, allowed)


def guarded_session(allowed: tuple[Network, ...], timeout: float) -> aiohttp.ClientSession:
    """An aiohttp session whose every connection goes through the GuardedResolver."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(allowed), use_dns_cache=False),
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": "Linkport"},
    )


def _check_url(url: str, allowed: tuple[Network, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("only absolute http(s) URLs may be called")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: checked by the resolver when connecting
    _check(literal, allowed)


class OutboundClient:
    """An HTTP client for untrusted URLs."""

    def __init__(self, *, allowed: tuple[Network, ...], timeout: float, max_bytes: int) -> None:
        self._allowed = allowed
        self._max_bytes = max_bytes
        self._session = guarded_session(allowed, timeout)

    async def close(self) -> None:
        """Release connections."""
        await self._session.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
    ) -> OutboundResponse:
        """Send the request, following up to five redirects (each checked), reading a bounded body."""
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, self._allowed)
            async with self._session.request(
                method, url, headers=headers, json=json, data=data, allow_redirects=False
            ) as reply:
                if reply.status in (301, 302, 303, 307, 308) and "Location" in reply.headers:
                    url = urljoin(url, reply.headers["Location"])
                    if reply.status == 303 or (reply.status in (301, 302) and method != "GET"):
                        method, json, data = "GET", None, None
                    continue
                body = await self._read(reply)
                return OutboundResponse(reply.status, dict(reply.headers), body)
        raise BlockedDestination(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, reply: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in reply.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_bytes:
                raise ResponseTooLarge(f"response larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
