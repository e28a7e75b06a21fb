"""The delay before an execution's next try: exponential from a base, capped, with jitter."""

from __future__ import annotations

import functools
import random
from types import SimpleNamespace
from typing import cast

import pytest

from shared.config import Settings
from shared.executions import service as executor
from shared.infra.resources import Resources


@functools.cache
def _retry_settings(base: float, ceiling: float) -> Settings:
    return Settings(retry_base_delay=base, retry_max_delay=ceiling)


def _backoff(attempt: int, *, base: float, ceiling: float) -> float:
    """``backoff`` for these settings values (the one line to adapt if its signature changes)."""
    res = SimpleNamespace(settings=_retry_settings(base, ceiling))
    return executor.backoff(cast(Resources, res), attempt)


def test_the_ceiling_doubles_with_each_attempt_until_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert [_backoff(n, base=2.0, ceiling=20.0) for n in range(1, 7)] == [2, 4, 8, 16, 20, 20]
    assert _backoff(60, base=2.0, ceiling=600.0) == 600  # far past the cap: still the cap


def test_the_jitter_never_goes_below_half_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert _backoff(1, base=2.0, ceiling=600.0) == 1.0
    assert _backoff(3, base=2.0, ceiling=600.0) == 4.0
    assert _backoff(30, base=2.0, ceiling=600.0) == 300.0


def test_retries_are_spread_within_the_window() -> None:
    delays = [_backoff(3, base=1.0, ceiling=600.0) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 1.5  # many workers retrying do not come back at once
