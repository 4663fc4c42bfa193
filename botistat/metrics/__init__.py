"""Metrics: pure functions from the canonical LazyFrame to small result LazyFrames.

Nothing here reads files, collects or prints; ``botistat.report`` collects them all at once.
"""
