"""Fixtures of the integration tests (the suite's own are in ``tests/conftest.py``)."""

from tests.integration.webhook_fixtures import hooks, receiver

__all__ = ["hooks", "receiver"]
