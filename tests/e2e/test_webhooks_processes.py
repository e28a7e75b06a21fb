"""Webhooks survive a worker killed with SIGKILL in the middle of sending (real processes):
every endpoint receives every webhook-id at least once, and the log shows exactly one
success per delivery."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from shared.infra import db
from shared.webhooks.models import WebhookEventType, message_ref
from tests.fakes.webhook_receiver import Answer, WebhookReceiver
from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE, Api, eventually
from tests.processes import linkport_env, start, stop
from tests.webhook_fixtures import announce, register, settings_of

pytestmark = pytest.mark.e2e

NOTIFICATIONS = 100


async def _succeeded(pool: db.Pool) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
    )
    return count


async def test_a_hundred_notifications_across_a_worker_sigkill(
    hooks: Api, receiver: WebhookReceiver, pool: db.Pool, tmp_path: Path
) -> None:
    paths = ("a", "b")
    for path in paths:
        await register(hooks, receiver.endpoint(path))
        receiver.answer(path, then=Answer(200, delay=0.1))
    for _ in range(NOTIFICATIONS):
        await announce(hooks, WebhookEventType.CONNECTION_DELETED)
    total = NOTIFICATIONS * len(paths)

    settings = settings_of(hooks)
    env = linkport_env(
        LINKPORT_DATABASE_URL=settings.database_url,
        LINKPORT_REDIS_URL=settings.redis_url,
        LINKPORT_BASE_URL=settings.base_url,
        LINKPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        LINKPORT_QUEUE_NAME=TEST_QUEUE,
        LINKPORT_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
        LINKPORT_WEBHOOK_RETRY_SCHEDULE="0,0.2,0.5,1,1,1,1,1,1,1",
        LINKPORT_WEBHOOK_TIMEOUT="1",
        LINKPORT_WEBHOOK_ENDPOINT_CONCURRENCY="4",
        LINKPORT_SWEEP_GRACE="0.2",
        LINKPORT_LOG_LEVEL="WARNING",
    )
    first = start("worker", env=env, log=tmp_path / "worker-1.log")
    try:
        await eventually(lambda: _arrived(receiver), lambda n: n >= 40, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert await _succeeded(pool) < total  # the kill really interrupted work
    in_flight = await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'sending'"
    )

    second = start("worker", env=env, log=tmp_path / "worker-2.log")
    try:
        await eventually(lambda: _succeeded(pool), lambda n: n == total, timeout=60)
    finally:
        assert stop(second) == 0, (tmp_path / "worker-2.log").read_text()[-2000:]

    messages = {message_ref(r["id"]) for r in await pool.fetch("SELECT id FROM webhook_messages")}
    assert len(messages) == NOTIFICATIONS
    for path in paths:  # at least once
        assert {r.webhook_id for r in receiver.received(path)} == messages, path
    # Exactly one success per delivery in the log, whatever was sent twice.
    successes = await pool.fetch(
        """SELECT d.id, count(a.*) FILTER (WHERE a.succeeded) AS ok FROM webhook_deliveries d
           LEFT JOIN webhook_attempts a ON a.delivery_id = d.id GROUP BY d.id"""
    )
    assert len(successes) == total
    assert {r["ok"] for r in successes} == {1}
    # Every slot taken by the killed worker was handed on and given back.
    assert {
        r["in_flight"] for r in await pool.fetch("SELECT in_flight FROM webhook_endpoints")
    } == {0}
    # The kill caught deliveries mid-send; those were sent again (at least once, not once).
    assert in_flight > 0
    assert len(receiver.requests) >= total


async def _arrived(receiver: WebhookReceiver) -> int:
    return len(receiver.requests)
