"""Fake third parties the tests run against (servers on loopback)."""
