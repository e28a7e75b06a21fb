"""The worker's webhook jobs: a delivery id in, an attempt made and recorded (see ``delivery``)."""

from __future__ import annotations

import uuid
from typing import Any

from arq.worker import Function, func

from shared.config import Settings
from shared.infra import queue
from shared.webhooks import delivery
from shared.webhooks.delivery import Sender

Ctx = dict[str, Any]


def _sender(ctx: Ctx) -> Sender:
    resources: Sender = ctx["resources"]  # the worker's resources provide what sending uses
    return resources


async def deliver_webhook(ctx: Ctx, delivery_id: str) -> str:
    """Job: attempt one delivery (and those waiting at its endpoint)."""
    return await delivery.run_delivery(_sender(ctx), delivery_id=uuid.UUID(delivery_id))


async def sweep_webhooks(ctx: Ctx) -> int:
    """Cron: re-enqueue deliveries that may have lost their job."""
    return await delivery.sweep(_sender(ctx))


async def prune_webhooks(ctx: Ctx) -> int:
    """Cron: drop event-log messages past their retention once nothing is left to send."""
    return await delivery.prune(_sender(ctx))


def deliver_function(settings: Settings) -> Function:
    """The delivery job as the worker registers it: its time limit covers an attempt and the
    draining after it (each bounded by ``webhook_timeout``) with room to record them."""
    return func(
        deliver_webhook, name=queue.DELIVER_WEBHOOK, timeout=3 * settings.webhook_timeout + 10
    )
