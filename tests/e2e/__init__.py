"""Tests of Linkport running as separate processes."""
