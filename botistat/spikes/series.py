"""The series spike detection judges, one value per time bucket, for ``report`` and ``watch``.

Each series is read off the same bucket partials (:mod:`botistat.metrics.buckets`,
:mod:`botistat.metrics.reply_series`, :mod:`botistat.metrics.cost`), by :func:`series_value`:
tokens (an empty bucket counts 0), the p95 reply time (buckets with at least ``MIN_REPLIES``
replies), the API error rate (buckets with at least ``MIN_BOT_RECORDS`` bot records) and, in
``watch``, the cost. ``report`` walks the buckets from the first to the last; ``watch`` judges
the open bucket and pushes each bucket as it closes. Both use :class:`History`, so a bucket is
judged alike either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

from botistat.core.model import Contributor, Spike
from botistat.metrics.buckets import BUCKET, bucket_end, bucket_grid
from botistat.spikes.detector import DetectorSettings, find_spikes

if TYPE_CHECKING:
    import polars as pl

MIN_BOT_RECORDS: Final = 5
#: An error rate under this is not worth an alert, however it compares with its baseline.
ERROR_RATE_FLOOR: Final = 0.05
TOP: Final = 5
#: The series, in the order events and tables list them.
TOKENS, COST, P95, ERROR_RATE = "tokens", "cost.usd", "response_ms.p95", "errors.rate"
REPORT_SERIES: Final = (TOKENS, P95, ERROR_RATE)
WATCH_SERIES: Final = (TOKENS, COST, P95, ERROR_RATE)


class SpikeSettings(Protocol):
    @property
    def bucket_seconds(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def sensitivity(self) -> float: ...
    @property
    def min_ratio(self) -> float: ...
    @property
    def min_tokens(self) -> float: ...


@dataclass(frozen=True)
class BucketValues:
    """What one time bucket of one scope holds, as the series read it."""

    start: datetime
    messages: int = 0
    tokens: int = 0
    bot_records: int = 0
    errors: int = 0
    replies: int = 0
    #: None with fewer than ``MIN_REPLIES`` replies.
    p95_ms: float | None = None
    usd: float = 0.0

    @property
    def error_rate(self) -> float | None:
        """API errors per bot record, once there are enough bot records to judge."""
        if self.bot_records < MIN_BOT_RECORDS:
            return None
        return self.errors / self.bot_records


def series_value(metric: str, bucket: BucketValues) -> float | None:
    """The value of one series in one bucket (None: no data to judge)."""
    if metric == TOKENS:
        return float(bucket.tokens)
    if metric == COST:
        return bucket.usd
    if metric == P95:
        return bucket.p95_ms
    if metric == ERROR_RATE:
        return bucket.error_rate
    raise ValueError(f"unknown series {metric!r}")


def detector_settings(
    metric: str, options: SpikeSettings, min_cost: float = 0.0
) -> DetectorSettings:
    """The detector of one series: the shared settings, and the series' own floor."""
    floors = {TOKENS: options.min_tokens, COST: min_cost, ERROR_RATE: ERROR_RATE_FLOOR}
    return DetectorSettings(
        window=options.window,
        sensitivity=options.sensitivity,
        min_ratio=options.min_ratio,
        floor=floors.get(metric, 0.0),
    )


def bucket_values(volume: pl.DataFrame, reply_p95: pl.DataFrame) -> list[BucketValues]:
    """The buckets with data of one scope, in time order, from its merged bucket volume and
    its :func:`~botistat.metrics.reply_series.reply_p95` (without group columns)."""
    import polars as pl

    table = volume.join(
        reply_p95.select(BUCKET, "replies", "p95"), on=BUCKET, how="full", coalesce=True
    ).sort(BUCKET)
    counts = ("messages", "tokens", "bot_records", "errors", "replies")
    table = table.with_columns(pl.col(counts).fill_null(0))
    return [
        BucketValues(
            start=_utc(row[BUCKET]),
            messages=int(row["messages"]),
            tokens=int(row["tokens"]),
            bot_records=int(row["bot_records"]),
            errors=int(row["errors"]),
            replies=int(row["replies"]),
            p95_ms=row["p95"],
        )
        for row in table.iter_rows(named=True)
    ]


def find_report_spikes(
    buckets: list[BucketValues], contributors: pl.DataFrame, options: SpikeSettings
) -> tuple[Spike, ...]:
    """Spikes of one scope, from its buckets with data (:func:`bucket_values`) and its
    contributors.

    The series run over every bucket from the first to the last; a run of more than
    ``window`` empty buckets is cut to ``window`` of them, which judges every bucket alike
    (after ``window`` empty buckets the history is all empty, however long the gap) while
    the work stays bounded by the data, not by the time it spans.
    """
    if not buckets:
        return ()
    seconds = options.bucket_seconds
    by_start = {bucket.start: bucket for bucket in buckets}
    starts = bucket_grid(list(by_start), seconds, max_gap=max(options.window, 1))
    grid = [by_start.get(start) or BucketValues(start) for start in starts]
    spikes = []
    for metric in REPORT_SERIES:
        values = [series_value(metric, bucket) for bucket in grid]
        for run in find_spikes(values, detector_settings(metric, options)):
            window = starts[run.first : run.last + 1]
            spikes.append(
                Spike(
                    metric=metric,
                    start=starts[run.first],
                    end=bucket_end(starts[run.last], seconds) or starts[run.last],
                    buckets=run.last - run.first + 1,
                    peak=run.peak,
                    baseline=run.baseline.median,
                    threshold=run.baseline.threshold,
                    ratio=run.baseline.ratio(run.peak),
                    tokens=sum(bucket.tokens for bucket in grid[run.first : run.last + 1]),
                    bots=top_contributors(contributors, window, "bot_id"),
                    models=top_contributors(contributors, window, "model"),
                    conversations=top_contributors(contributors, window, "conversation_id"),
                )
            )
    return tuple(sorted(spikes, key=lambda s: (s.start, s.metric)))


def top_contributors(
    contributors: pl.DataFrame, buckets: list[datetime], field: str
) -> tuple[Contributor, ...]:
    """The ``TOP`` names of one field with the most tokens over ``buckets`` (merged
    :func:`~botistat.metrics.buckets.bucket_contributors`); ties go to the first name."""
    import polars as pl

    if contributors.is_empty():
        return ()
    rows = (
        contributors.filter(pl.col("field") == field, pl.col(BUCKET).is_in(buckets))
        .group_by("name")
        .agg(pl.col("tokens").sum())
        .sort("tokens", "name", descending=[True, False])
        .head(TOP)
    )
    return tuple(Contributor(name, int(tokens)) for name, tokens in rows.iter_rows())


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
