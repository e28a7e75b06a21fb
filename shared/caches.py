"""A process's caches, and their evictions shared between replicas through Redis pub/sub.

A writer evicts its own cache at once and publishes; every replica's listener evicts
the same entries. A replica that loses its subscription clears its caches when it
resubscribes (it may have missed messages); the TTL bounds staleness in between. A
process that reads these caches must run ``listen`` (the gateway does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.accounts.models import AccountFacts
from shared.clients.models import ClientSettings
from shared.events.models import EventDefinition
from shared.infra import redis_keys
from shared.infra.cache import TtlCache
from shared.tenancy import Environment, ServerPrincipal, Tenant

log = structlog.get_logger(logger_name=__name__)

# ("cs", public client id, secret hash) or ("sk", key hash)
PrincipalKey = tuple[str | bytes, ...]
# (client_id, environment, linked_account_id)
AccountKey = tuple[UUID, str, str]
# (client_id, environment, event name)
DefinitionKey = tuple[UUID, str, str]


@dataclass
class Caches:
    """Every in-process cache whose entries another replica's write can make stale."""

    principals: TtlCache[PrincipalKey, ServerPrincipal]
    accounts: TtlCache[AccountKey, AccountFacts]
    client_settings: TtlCache[Tenant, ClientSettings]
    definitions: TtlCache[DefinitionKey, EventDefinition]  # the latest version of each

    @classmethod
    def create(cls, *, ttl: float, max_entries: int) -> Caches:
        """Empty caches sharing one TTL and size bound."""
        return cls(
            TtlCache(ttl=ttl, max_entries=max_entries),
            TtlCache(ttl=ttl, max_entries=max_entries),
            TtlCache(ttl=ttl, max_entries=max_entries),
            TtlCache(ttl=ttl, max_entries=max_entries),
        )

    def clear(self) -> None:
        """Forget everything (after a gap in the invalidation stream)."""
        self.principals.clear()
        self.accounts.clear()
        self.client_settings.clear()
        self.definitions.clear()


class Invalidation(BaseModel):
    """One eviction: a revoked key, a changed or deleted account, changed settings, or a new
    version of an event definition."""

    kind: Literal["api_key", "account", "settings", "definition"]
    client_id: UUID
    environment: Environment
    key_id: UUID | None = None
    linked_account_id: str | None = None
    name: str | None = None

    def apply(self, caches: Caches) -> None:
        """Evict what this message names from ``caches``."""
        if self.kind == "api_key":
            caches.principals.evict_where(lambda _, p: p.key_id == self.key_id)
        elif self.kind == "account":
            assert self.linked_account_id is not None
            caches.accounts.evict((self.client_id, self.environment, self.linked_account_id))
        elif self.kind == "definition":
            assert self.name is not None
            caches.definitions.evict((self.client_id, self.environment, self.name))
        else:
            caches.client_settings.evict(Tenant(self.client_id, self.environment))


async def publish(redis: Redis, caches: Caches, message: Invalidation) -> None:
    """Evict locally now, then tell every other replica."""
    message.apply(caches)
    await redis.publish(redis_keys.INVALIDATION_CHANNEL, message.model_dump_json())


async def listen(redis: Redis, caches: Caches, *, ready: asyncio.Event | None = None) -> None:
    """Apply invalidations published by any replica, until cancelled."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(redis_keys.INVALIDATION_CHANNEL)
                caches.clear()
                if ready is not None:
                    ready.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        Invalidation.model_validate_json(message["data"]).apply(caches)
        except (RedisError, OSError) as exc:
            log.warning("invalidation_listener_lost", error=type(exc).__name__)
            await asyncio.sleep(1.0)
