"""Metrics: pure functions from the canonical LazyFrame to small result LazyFrames.

Nothing here reads files, collects or prints; ``botistat.engine.local`` collects them all at once.
"""
