"""Incremental state for scheduled reports: per input file, the canonical records parsing
gave (Parquet segments), what it skipped, and where it stopped; a run parses only what is
new. See :mod:`botistat.engine.cache.inputs` for how inputs are matched to entries, and
:mod:`botistat.engine.cache.store` for the directory's layout and safety."""

from botistat.engine.cache.inputs import DEFAULT_MAX_BYTES, InputCache, parse_key
from botistat.engine.cache.store import CacheInfo, CacheUnusableError, cache_info, clear_cache

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheInfo",
    "CacheUnusableError",
    "InputCache",
    "cache_info",
    "clear_cache",
    "parse_key",
]
