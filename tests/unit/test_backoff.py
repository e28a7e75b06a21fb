"""The delay before an execution's next try: exponential from a base, capped, with jitter."""

from __future__ import annotations

import random

import pytest

from shared.executions.service import backoff


def test_the_ceiling_doubles_with_each_attempt_until_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert [backoff(n, base=2.0, ceiling=20.0) for n in range(1, 7)] == [2, 4, 8, 16, 20, 20]
    assert backoff(60, base=2.0, ceiling=600.0) == 600  # far past the cap: still the cap


def test_the_jitter_never_goes_below_half_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert backoff(1, base=2.0, ceiling=600.0) == 1.0
    assert backoff(3, base=2.0, ceiling=600.0) == 4.0
    assert backoff(30, base=2.0, ceiling=600.0) == 300.0


def test_retries_are_spread_within_the_window() -> None:
    delays = [backoff(3, base=1.0, ceiling=600.0) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 1.5  # many workers retrying do not come back at once
