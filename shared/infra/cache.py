"""A small in-process cache with a TTL and a size bound, for lookups every request repeats."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries expire after ``ttl`` seconds; past ``max_entries`` the oldest entry goes first."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at < time.monotonic():
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: K, value: V) -> None:
        """Cache ``value`` (a zero TTL disables caching)."""
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max_entries and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic() + self._ttl, value)

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
        """Forget everything."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
