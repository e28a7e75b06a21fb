"""Liveness and readiness probes for Kubernetes."""

from __future__ import annotations

import asyncio
from typing import Literal

from services.gateway.endpoints import Access, Call, Reply, Router
from services.gateway.middlewares import GUARD
from shared.schemas import ResponseModel

router = Router("operations")

CheckResult = Literal["ok", "unreachable"]
# Seconds /readyz waits for each dependency's probe.
READY_TIMEOUT = 2.0


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


@router.route(
    "GET",
    "/readyz",
    summary="Readiness: Postgres and Redis answer (503 otherwise)",
    access=Access.PUBLIC,
    response=Readiness,
    also={503: "a dependency does not answer: take this replica out of rotation"},
)
async def readyz(call: Call) -> Reply:
    # At most one probe per dependency at a time, waited for at most 2 s: a dependency that
    # hangs (a stopped PostgreSQL) answers "unreachable" in 2 s, and probes do not pile up.
    outages = call.request.app[GUARD].outages
    postgres_ok, redis_ok = await asyncio.gather(
        outages.check("postgres", READY_TIMEOUT), outages.check("redis", READY_TIMEOUT)
    )
    postgres: CheckResult = "ok" if postgres_ok else "unreachable"
    redis: CheckResult = "ok" if redis_ok else "unreachable"
    ready = postgres_ok and redis_ok
    status = "ready" if ready else "not_ready"
    return Reply(Readiness(status=status, postgres=postgres, redis=redis), 200 if ready else 503)
