"""What a report is asked for: the time range, the grouping, the spike settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botistat.metrics.top import TOP_ITEMS
from botistat.spikes.detector import (
    DEFAULT_MIN_RATIO,
    DEFAULT_MIN_TOKENS,
    DEFAULT_SENSITIVITY,
    DEFAULT_WINDOW,
)

DEFAULT_TOP = 10


@dataclass(frozen=True)
class SpikeOptions:
    """Time buckets and detector settings for the spikes listed in a report."""

    bucket_seconds: int = 3600
    window: int = DEFAULT_WINDOW
    sensitivity: float = DEFAULT_SENSITIVITY
    min_ratio: float = DEFAULT_MIN_RATIO
    min_tokens: float = DEFAULT_MIN_TOKENS


@dataclass(frozen=True)
class ReportOptions:
    by: str | None = None
    #: Countries listed before "Other".
    top: int = DEFAULT_TOP
    #: Conversations, users and models listed in the report's ``top`` (by tokens).
    top_items: int = TOP_ITEMS
    since: datetime | None = None
    until: datetime | None = None
    timezone: str = "UTC"
    #: 0: keep the records in memory; otherwise spill them to this many partitions on disk
    #: (see :mod:`botistat.engine.partition`). The numbers are the same either way.
    partitions: int = 0
    spikes: SpikeOptions = SpikeOptions()
    #: Fold records that share a message id into one (only when the config maps the id).
    merge_messages: bool = False
