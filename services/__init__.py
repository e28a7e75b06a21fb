"""Linkport's network-facing services."""
