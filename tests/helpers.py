"""Helpers tests share: this run's constants, calling the API as a tenant, polling with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.clients.models import IssuedCredentials
from shared.infra import db
from shared.infra.crypto import generate_key
from shared.tenancy import Tenant

T = TypeVar("T")
AuthStyle = Literal["api_key", "secret", "bearer", "none"]
Client = TestClient[web.Request, web.Application]
# make_client (tests/conftest.py): start a gateway; keyword arguments override settings.
AppFactory = Callable[..., Awaitable[Client]]

TEST_ENCRYPTION_KEY = generate_key()
# This run's own arq queue: a stray worker of another run can never take its jobs.
TEST_QUEUE = f"linkport:test:{uuid.uuid4().hex[:12]}:queue"


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


@dataclass
class Reply:
    """A response's status and parsed JSON body."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Api:
    """Calls the gateway as one tenant."""

    http: Client
    credentials: IssuedCredentials
    tenant: Tenant

    @classmethod
    async def for_credentials(cls, http: Client, pool: db.Pool, issued: IssuedCredentials) -> Api:
        """An Api for freshly issued credentials."""
        row = await pool.fetchrow(
            "SELECT client_id, environment FROM environments WHERE public_client_id = $1",
            issued.client_id,
        )
        assert row is not None
        return cls(http, issued, Tenant(row["client_id"], row["environment"]))

    def auth_headers(self, style: AuthStyle = "api_key") -> dict[str, str]:
        """Headers that authenticate in the given style."""
        if style == "api_key":
            return {"X-API-Key": self.credentials.api_key}
        if style == "bearer":
            return {"Authorization": f"Bearer {self.credentials.api_key}"}
        if style == "secret":
            return {
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
            }
        return {}

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        auth: AuthStyle = "api_key",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send a request and read its JSON reply."""
        all_headers = {**self.auth_headers(auth), **(headers or {})}
        async with self.http.request(
            method, path, json=json, headers=all_headers, **kwargs
        ) as response:
            body = await response.json(content_type=None) if await response.read() else None
            return Reply(response.status, body, dict(response.headers))


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], *, timeout: float = 5.0
) -> T:
    """Poll ``probe`` until ``until(result)`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {result!r}")
        await asyncio.sleep(0.02)
