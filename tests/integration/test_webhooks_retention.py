"""The event log is pruned past ``webhook_retention_days``, but never a message with a delivery
still to send, nor a recent one."""

from __future__ import annotations

import uuid

from services.gateway.appkeys import RESOURCES
from shared.infra import db
from shared.webhooks import delivery
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers import Api
from tests.webhook_fixtures import announce, register, settled
from tests.workflow_fixtures import running_worker, worker_settings


async def _age(pool: db.Pool, message_ids: list[uuid.UUID], days: int) -> None:
    await pool.execute(
        "UPDATE webhook_messages SET created_at = now() - make_interval(days => $2)"
        " WHERE id = ANY($1::uuid[])",
        message_ids,
        days,
    )


async def _message_of(pool: db.Pool, delivery_id: uuid.UUID) -> uuid.UUID:
    found: uuid.UUID = await pool.fetchval(
        "SELECT message_id FROM webhook_deliveries WHERE id = $1", delivery_id
    )
    return found


async def _messages(pool: db.Pool, api: Api) -> set[uuid.UUID]:
    rows = await pool.fetch(
        "SELECT id FROM webhook_messages WHERE client_id = $1 AND environment = $2",
        api.tenant.client_id,
        api.tenant.environment,
    )
    return {r["id"] for r in rows}


async def test_old_settled_messages_go_and_the_rest_stay(
    hooks: Api, pool: db.Pool, receiver: WebhookReceiver
) -> None:
    await register(hooks, receiver.endpoint("log"))
    async with running_worker(worker_settings(hooks)):
        (old_delivery,) = await announce(hooks)
        (recent_delivery,) = await announce(hooks)
        for delivery_id in (old_delivery, recent_delivery):
            assert (await settled(hooks, delivery_id))["status"] == "succeeded"
    (pending_delivery,) = await announce(hooks)  # no worker runs now: it stays pending
    old, recent, pending = [
        await _message_of(pool, d) for d in (old_delivery, recent_delivery, pending_delivery)
    ]
    await _age(pool, [old, pending], days=31)

    assert await delivery.prune(hooks.http.app[RESOURCES]) == 1

    left = await _messages(pool, hooks)
    assert old not in left
    assert pending in left  # still to send
    assert recent in left  # younger than the retention
    gone = await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE id = $1", old_delivery
    )
    assert gone == 0  # its deliveries and attempts went with it
