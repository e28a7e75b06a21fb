"""Liveness and readiness probes for Kubernetes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from services.gateway.endpoints import Access, Call, Reply, Router
from shared.schemas import ResponseModel

router = Router("operations")

CheckResult = Literal["ok", "unreachable"]


class Health(ResponseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class Readiness(ResponseModel):
    """Whether the dependencies this replica needs answer."""

    status: Literal["ready", "not_ready"]
    postgres: CheckResult
    redis: CheckResult


@router.route(
    "GET",
    "/healthz",
    summary="Liveness: the process answers",
    access=Access.PUBLIC,
    response=Health,
)
async def healthz(call: Call) -> Health:
    return Health()


async def _check(probe: Awaitable[object]) -> CheckResult:
    try:
        async with asyncio.timeout(2):
            await probe
    except Exception:
        return "unreachable"
    return "ok"


@router.route(
    "GET",
    "/readyz",
    summary="Readiness: Postgres and Redis answer (503 otherwise)",
    access=Access.PUBLIC,
    response=Readiness,
    also={503: "a dependency does not answer: take this replica out of rotation"},
)
async def readyz(call: Call) -> Reply:
    res = call.resources
    postgres, redis = await asyncio.gather(
        _check(res.pool.fetchval("SELECT 1")), _check(res.redis.ping())
    )
    ready = postgres == "ok" and redis == "ok"
    status = "ready" if ready else "not_ready"
    return Reply(Readiness(status=status, postgres=postgres, redis=redis), 200 if ready else 503)
