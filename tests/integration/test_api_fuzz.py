"""The API under property-based fuzzing (issue 9): every operation of ``/openapi.json``, with
inputs schemathesis generates from it (valid and invalid, boundary values), must never answer
5xx and must answer what the document promises: a documented status, a body of its schema.

The gateway runs in-process on a real port, as the other integration tests have it; the
cases go over real HTTP from a worker thread (schemathesis and Hypothesis are synchronous)
while the event loop serves them. The run is deterministic (``derandomize``): a failure
here is a failure on every machine, and its curl command reproduces it.

Each operation runs twice: once as generated (coverage cases, then up to ``MAX_EXAMPLES``
drawn ones), and, when its path names an object, once more aimed at a real one (a linked
account, an org, a workflow... made by ``_seed``), so that its body reaches the code behind
the 404.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway.middlewares import GUARD
from tests.helpers import Api

# Drawn cases per operation and pass, beside the coverage phase's own (boundary values,
# wrong types, missing fields). LINKPORT_FUZZ_EXAMPLES=200 makes a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("LINKPORT_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass
class Tally:
    """What the run sent and what went wrong."""

    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: int = 0
    # 405s without the Allow header RFC 9110 asks for (counted, not failed: see the report)
    allow_missing: int = 0
    # (operation, status, what failed) -> how many times, and the first case's curl command
    failures: collections.Counter[tuple[str, int, str]] = field(default_factory=collections.Counter)
    examples: dict[tuple[str, int, str], str] = field(default_factory=dict)

    def fail(self, key: tuple[str, int, str], example: str) -> None:
        self.failures[key] += 1
        self.examples.setdefault(key, example)

    def report(self) -> str:
        """The failures, one line each, with a curl command that reproduces the first."""
        return "\n".join(
            f"{count} × {label} → {status}: {what}\n    {self.examples[key]}"
            for key, count in self.failures.most_common()
            for label, status, what in [key]
        )


async def _seed(acme: Api) -> dict[str, str]:
    """Real objects for the second pass's path parameters, by parameter name."""

    async def made(method: str, path: str, body: dict[str, Any]) -> Any:
        reply = await acme.call(method, path, body)
        assert reply.status in (200, 201, 202), (path, reply.body)
        return reply.body

    await made("POST", "/v1/link/token/create", {"user_id": "fuzz-user", "org_id": "fuzz-org"})
    await made(
        "POST", "/v1/linked-accounts", {"linked_account_id": "fuzz-account", "org_id": "fuzz-org"}
    )
    await made("POST", "/v1/event-definitions", {"name": "fuzz.event", "sample": {"email": "e"}})
    workflow = await made(
        "POST",
        "/v1/workflows",
        {
            "name": "fuzz",
            "app": "sandbox",
            "trigger": {"event": "fuzz.event"},
            "steps": [
                {
                    "id": "create",
                    "action": "sandbox.create_contact",
                    "input": {"email": "{{ event.email }}"},
                }
            ],
        },
    )
    config = await made(
        "POST", "/v1/configs", {"linked_account_id": "fuzz-account", "app": "sandbox"}
    )
    event = await made(
        "POST",
        "/v1/events",
        {"event": "fuzz.event", "linked_account_id": "fuzz-account", "payload": {"email": "e"}},
    )
    return {
        "linked_account_id": "fuzz-account",
        "org_id": "fuzz-org",
        "name": "fuzz.event",
        "slug": "sandbox",
        "workflow_id": workflow["id"],
        "config_id": config["id"],
        "event_id": event["event_id"],
    }


def _fuzz(
    schema: Any, base_url: str, headers: dict[str, str], seeds: dict[str, str], tally: Tally
) -> None:
    """Every operation's cases, sent from this (worker) thread; a bad answer is tallied, not
    raised, so that one run counts them all (and nothing is shrunk)."""
    session = requests.Session()
    settings = hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )

    def checker(label: str) -> Any:
        @settings
        def check(case: Case[Any]) -> None:
            tally.cases[label] += 1
            try:
                response = case.call(base_url=base_url, headers=headers, session=session)
            except requests.RequestException as exc:  # the server dropped the connection
                tally.fail((label, 0, f"no answer: {exc!r}"), case.as_curl_command(headers))
                return
            status = response.status_code
            tally.statuses[status] += 1
            tally.server_errors += status >= 500
            tally.allow_missing += status == 405 and "Allow" not in response.headers
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    tally.fail((label, status, failure.title), case.as_curl_command(headers))

        return check

    for result in schema.get_all_operations():
        operation = result.ok()
        check = checker(operation.label)
        passes = [(Override(), [HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING])]
        params = {p: seeds[p] for p in _PATH_PARAM.findall(operation.path) if p in seeds}
        if params and operation.method.upper() != "DELETE":
            passes.append((Override(path_parameters=params), [HypothesisTestMode.FUZZING]))
        for override, modes in passes:
            config = HypothesisTestConfig(
                project=schema.config, modes=modes, settings=settings, override=override
            )
            create_test(operation=operation, test_func=check, config=config)()


async def test_no_operation_answers_5xx_or_breaks_its_schema(acme: Api) -> None:
    seeds = await _seed(acme)
    async with acme.http.get("/openapi.json") as response:
        spec = await response.json()
    schema = schemathesis.openapi.from_dict(spec)
    # Our credentials on every case: generated ones would make most cases a 401.
    schema.config.generation.update(deterministic=True, with_security_parameters=False)
    base_url = str(acme.http.make_url("")).rstrip("/")
    tally = Tally()
    started = time.monotonic()
    # Rate limits off for this test: it sends thousands of cases for a handful of accounts,
    # and checks contracts, not limits (tests/integration/test_gateway_hardening.py does).
    guard = acme.http.app[GUARD]
    limits, guard.limits = guard.limits, None
    try:
        await asyncio.to_thread(_fuzz, schema, base_url, acme.auth_headers(), seeds, tally)
    finally:
        guard.limits = limits
    summary = (
        f"fuzz: {len(tally.cases)} operations, {sum(tally.cases.values())} cases in "
        f"{time.monotonic() - started:.0f}s: {tally.server_errors} × 5xx, "
        f"{sum(tally.failures.values())} failed checks, {tally.allow_missing} × 405 without "
        f"Allow; statuses {dict(sorted(tally.statuses.items()))}"
    )
    print(summary)
    operations = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert len(tally.cases) == len(operations), summary
    assert not tally.failures, f"{summary}\n{tally.report()}"
