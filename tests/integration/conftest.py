"""Integration: real PostgreSQL and Redis, the gateway in-process over real HTTP, the
worker in-process (in arq's burst mode unless a test is about a live worker)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
async def _clean(clean_state: None) -> None:
    """Every test starts with empty tables and an empty Redis db."""
