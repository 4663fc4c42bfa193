"""``botistat watch --replay``: logs already written, fed to the live monitor as if they were
arriving now, in time order.

This is how users try alert settings on last week's logs, and how the tests show that watch and
report agree: the records are read by the report's own scan, sorted by time (records of the
same time keep their input order, as a report orders a conversation), and folded in one time
bucket at a time, each bucket judged when the next one opens, as a live watch judges it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botistat.core.config import Config
from botistat.core.pricing import PriceBook
from botistat.core.schema import ROLE_OTHER
from botistat.ingest import resolve_sources, scan_sources
from botistat.ingest.stats import IngestSummary
from botistat.metrics.buckets import BUCKET, bucket_expr
from botistat.metrics.merge import merge_repeated
from botistat.watch.monitor import (
    COLUMNS,
    LiveMonitor,
    MonitorSettings,
    WatchEvent,
    bucket_document,
)

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Replayed:
    """One thing the replay emits: an alert (``event``) or a closed bucket (``bucket``)."""

    event: WatchEvent | None
    bucket: dict[str, Any] | None

    def document(self) -> dict[str, Any]:
        if self.event is not None:
            return self.event.document()
        assert self.bucket is not None
        return self.bucket


@dataclass(frozen=True)
class Replay:
    """The logs read (what was skipped, in ``input``), and what replaying them emits."""

    input: IngestSummary
    #: Messages read (records whose role is user or bot).
    records: int
    items: Iterator[Replayed]


def replay(
    paths: list[str],
    config: Config,
    settings: MonitorSettings,
    prices: PriceBook | None = None,
    *,
    input_format: str | None = None,
    strict: bool = False,
) -> Replay:
    """Read the logs, then (lazily, as ``items`` is iterated) every alert and every closed
    bucket a watch would have produced over them."""
    import polars as pl

    sources = resolve_sources(paths, input_format)
    scan = scan_sources(sources, config, strict=strict)
    # Records whose role is no message count in no metric, nor move the clock.
    messages = scan.frame.filter(pl.col("role") != ROLE_OTHER)
    frame = messages.select(COLUMNS)
    if settings.merge_messages:
        # All of a message's records are at hand: merged first, as the report merges them
        # (a live watch must merge them as they come, and counts a record of a message whose
        # bucket has already closed as late).
        frame = merge_repeated(frame)
        settings = replace(settings, merge_messages=False)
    # A stable sort: records of the same instant keep their input order.
    records = (
        frame.sort("timestamp", maintain_order=True)
        .with_columns(bucket_expr(settings.bucket_seconds))
        .collect(engine="in-memory")
    )
    return Replay(scan.stats.summary(), records.height, _replayed(records, settings, prices))


def _replayed(
    records: pl.DataFrame, settings: MonitorSettings, prices: PriceBook | None
) -> Iterator[Replayed]:
    monitor = LiveMonitor(settings, prices)
    seconds = settings.bucket_seconds
    for bucket in records.partition_by(BUCKET, maintain_order=True, include_key=False):
        monitor.add(bucket)
        latest = bucket.get_column("timestamp").max()
        assert isinstance(latest, datetime)
        yield from _emitted(monitor, monitor.check(latest), seconds)
    yield from _emitted(monitor, monitor.finish(), seconds)


def _emitted(monitor: LiveMonitor, events: list[WatchEvent], seconds: int) -> Iterator[Replayed]:
    for closed in monitor.closed_buckets():
        yield Replayed(None, bucket_document(closed, seconds))
    for event in events:
        yield Replayed(event, None)
