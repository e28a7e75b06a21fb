"""Unit: pure rules, no PostgreSQL, no Redis, no server; the whole folder runs in about a second."""

from __future__ import annotations

from typing import NoReturn

import pytest


@pytest.fixture(scope="session")
def servers() -> NoReturn:
    """Refuse the fixture every database and Redis fixture starts from."""
    pytest.fail("a unit test uses no PostgreSQL or Redis: move it to tests/integration")
