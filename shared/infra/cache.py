"""The one in-process cache: a TTL and a size bound, for lookups every request repeats.

Every cache of a process is one of these, held in ``invalidation.Caches`` when other
replicas' writes must evict it. Full, it drops its least recently used entry (one at a
time, never the whole cache), so the hot entries stay.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries expire ``ttl`` seconds after they were put (never when ``ttl`` is None: for
    values that cannot go stale); past ``max_entries`` the least recently used goes first."""

    def __init__(self, *, ttl: float | None, max_entries: int) -> None:
        self._ttl = math.inf if ttl is None else ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        """Cache ``value`` (a zero TTL disables caching)."""
        if self._ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self._ttl, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def evict(self, key: K) -> None:
        """Forget one key."""
        self._entries.pop(key, None)

    def evict_where(self, predicate: Callable[[K, V], bool]) -> int:
        """Forget every entry the predicate matches; returns how many (rare: revocations)."""
        doomed = [k for k, (_, v) in self._entries.items() if predicate(k, v)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (after a gap in the invalidation stream, never to make room)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
