"""Fake third-party servers on loopback: one module per fake, each a ``FakeServer``.

A fake builds its routes and records what it was sent. ``serve(fake)`` runs it on a free
loopback port and sets ``fake.url``; the ``start_fake`` fixture (tests/conftest.py) does
that for the length of one test. A test points Linkport at ``fake.url`` (a workflow step,
a setting) and asserts on what the fake recorded. A provider's fake goes here too, named
after it (``tests/fakes/hubspot.py``), never inside a test module.
"""

from tests.fakes.server import FakeServer, FakeT, StartFake, serve

__all__ = ["FakeServer", "FakeT", "StartFake", "serve"]
