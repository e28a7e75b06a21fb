"""Linkport's benchmark: each figure as a ratio against a raw baseline measured in the same run."""
