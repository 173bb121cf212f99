"""Tillgänglighet metrics: METRICS.md's figures, computed once, for every consumer."""
