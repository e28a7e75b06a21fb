"""The one outbound HTTP client: every call Linkport makes to another server goes through it.

It never reaches loopback, private, link-local, CGNAT, multicast, reserved or metadata
addresses unless an operator allow-lists the network. Hosts are read the way the socket
layer reads them (``127.1``, ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` are all
loopback; IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address they
carry), and names are checked on every address they resolve to, at connect time, so a
name cannot pass the check and then resolve elsewhere. Time and response size are
bounded; redirects are followed only when asked, each hop checked again, and credentials
never cross to another origin.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Headers that carry a connection's credentials: dropped when a redirect changes origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class BlockedDestination(Exception):
    """The URL is not http(s), or names or resolves to an address Linkport must not call."""


class ResponseTooLarge(Exception):
    """The response body is larger than allowed."""


@dataclass(frozen=True)
class OutboundResponse:
    """A finished response: status, headers, body (bounded)."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class StreamedResponse:
    """A response whose body is still arriving: status, headers (repeated names kept, in
    order), and the body's chunks as they come, undecoded (``Content-Encoding`` intact)."""

    status: int
    headers: list[tuple[str, str]]
    chunks: AsyncIterator[bytes]


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """Operator allow-list: CIDRs, comma-separated or as a list."""
    parts = text.split(",") if isinstance(text, str) else text
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in parts if p.strip())


def host_address(host: str) -> IPAddress | None:
    """The address a host names literally, read as the socket layer reads it, or None for
    a name. Besides canonical forms, IPv4 may be written in decimal (``2130706433``),
    octal (``0177.0.0.1``), hex (``0x7f.1``) or short (``127.1``): ``inet_aton`` accepts
    them all and so does every HTTP client built on it."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: mapped, NAT64 (RFC 6052/8215) or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local (incl. cloud metadata), CGNAT, multicast, reserved, unspecified."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_forbidden(inner)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _CGNAT
    )


def check_address(address: IPAddress, allowed: tuple[Network, ...]) -> None:
    """Refuse a forbidden address that no allow-listed network contains (an IPv6 address
    carrying an IPv4 one is judged as that IPv4 address)."""
    inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    candidates = (address,) if inner is None else (address, inner)
    if is_forbidden(address) and not any(a in net for a in candidates for net in allowed):
        raise BlockedDestination(f"destination address {address} is not allowed")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, ports made explicit."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def check_url(url: str, allowed: tuple[Network, ...]) -> None:
    """Refuse a URL that is not absolute http(s), or whose host is a forbidden address
    (names are checked on what they resolve to, when connecting). Use it when a URL is
    saved as well as when it is called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("only absolute http(s) URLs may be called")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise BlockedDestination("the URL's port is not valid") from None
    literal = host_address(parts.hostname)
    if literal is not None:
        check_address(literal, allowed)


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves names and refuses any result that points somewhere forbidden (at connect
    time, so a name cannot pass a check and then resolve elsewhere)."""

    def __init__(self, allowed: tuple[Network, ...], trusted_hosts: frozenset[str]) -> None:
        self._allowed = allowed
        self._trusted_hosts = trusted_hosts
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        """Resolve ``host``; every address must be allowed (or the host is Linkport's own)."""
        results = await self._inner.resolve(host, port, family)
        if host.lower() not in self._trusted_hosts:
            for result in results:
                check_address(ipaddress.ip_address(result["host"]), self._allowed)
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


class OutboundClient:
    """HTTP to other servers, guarded, bounded in time and size.

    ``self_origin`` is Linkport's own public origin: calls a catalog entry builds from
    ``{base_url}`` alone (the sandbox provider) go there even when it is a loopback or
    private address, but only when the caller says the URL came from the catalog.
    """

    def __init__(
        self,
        *,
        allowed: tuple[Network, ...],
        timeout: float,
        max_bytes: int,
        self_origin: str | None = None,
    ) -> None:
        self._allowed = allowed
        self._max_bytes = max_bytes
        self._self = origin(self_origin) if self_origin else None
        trusted = frozenset({self._self[1]}) if self._self else frozenset()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                resolver=GuardedResolver(allowed, trusted), use_dns_cache=False
            ),
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"User-Agent": "Linkport"},
        )
        # A session whose resolver trusts nothing: for every URL not from the catalog.
        self._strict = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                resolver=GuardedResolver(allowed, frozenset()), use_dns_cache=False
            ),
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"User-Agent": "Linkport"},
        )

    @property
    def max_bytes(self) -> int:
        """The largest response body read."""
        return self._max_bytes

    async def close(self) -> None:
        """Release connections."""
        await self._session.close()
        await self._strict.close()

    def check(self, url: str, *, from_catalog: bool = False) -> None:
        """Refuse a URL this client would refuse to call (before anything is sent)."""
        if from_catalog and self._self is not None and origin(url) == self._self:
            return
        check_url(url, self._allowed)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        follow_redirects: bool = False,
        from_catalog: bool = False,
    ) -> OutboundResponse:
        """Send the request and read a bounded body. Redirects are followed only when asked
        (each hop checked again; credential headers dropped when the origin changes)."""
        start = origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            self.check(url, from_catalog=from_catalog)
            session = self._session if from_catalog else self._strict
            async with session.request(
                method, url, headers=headers, json=json, data=data, allow_redirects=False
            ) as reply:
                location = reply.headers.get("Location")
                if follow_redirects and reply.status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    if reply.status == 303 or (reply.status in (301, 302) and method != "GET"):
                        method, json, data = "GET", None, None
                    if headers and origin(url) != start:
                        headers = {
                            k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS
                        }
                    from_catalog = from_catalog and origin(url) == start
                    continue
                body = await self._read(reply)
                return OutboundResponse(reply.status, dict(reply.headers), body)
        raise BlockedDestination(f"more than {MAX_REDIRECTS} redirects")

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        data: bytes | None = None,
        from_catalog: bool = False,
    ) -> AsyncIterator[StreamedResponse]:
        """Send the request and hand over its answer while the body streams (no size bound;
        the client's timeout bounds the whole exchange). ``url`` is sent as written (already
        percent-encoded: nothing is re-encoded or normalised); redirects are not followed."""
        self.check(url, from_catalog=from_catalog)
        session = self._session if from_catalog else self._strict
        async with session.request(
            method,
            yarl.URL(url, encoded=True),
            headers=headers,
            data=data,
            allow_redirects=False,
            auto_decompress=False,
        ) as reply:
            yield StreamedResponse(
                reply.status, list(reply.headers.items()), reply.content.iter_chunked(65536)
            )

    async def _read(self, reply: aiohttp.ClientResponse) -> bytes:
        declared = reply.content_length
        if declared is not None and declared > self._max_bytes:
            raise ResponseTooLarge(f"response larger than {self._max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in reply.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_bytes:
                raise ResponseTooLarge(f"response larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
