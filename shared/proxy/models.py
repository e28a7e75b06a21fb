"""What the proxy forwards: one caller's request, as it arrived (path and query still
percent-encoded), and the header it names its connection with."""

from __future__ import annotations

from dataclasses import dataclass, field

# The request header naming the connection a proxied call goes through.
CONNECTION_HEADER = "Linkport-Connection-Id"
# The path below which everything is forwarded (``/v1/proxy/{path below the app's API}``).
PROXY_PREFIX = "/v1/proxy/"


@dataclass(frozen=True)
class ProxyCall:
    """A caller's request to forward: ``raw_path`` below the app's API base and ``raw_query``
    exactly as sent (percent-encoding intact), its headers (every one, repeated names kept:
    the service decides what goes on), and its body (read in full, so it can be resent)."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)


class UnsafePath(ValueError):
    """A proxied path that could leave the app's API (another host, a parent folder)."""
