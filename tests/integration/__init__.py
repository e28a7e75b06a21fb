"""Tests across the gateway, the worker, PostgreSQL and Redis, in one process."""
