"""Spikes in a report: bucket series from the collected partials, run through the detector.

Three series per scope (all records, or one ``--by`` group), each on every bucket from the
first to the last: tokens (empty buckets count 0), p95 reply time (buckets with at least
``MIN_REPLIES`` replies), and the API error rate (buckets with at least ``MIN_BOT_RECORDS``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

from botistat.core.model import Contributor, Spike
from botistat.metrics.buckets import BUCKET
from botistat.spikes.detector import DetectorSettings, find_spikes

if TYPE_CHECKING:
    import polars as pl

MIN_REPLIES: Final = 5
MIN_BOT_RECORDS: Final = 5
#: An error rate under this is not worth an alert, however it compares with its baseline.
ERROR_RATE_FLOOR: Final = 0.05
TOP: Final = 5
#: Reply times held at once to take the p95 per bucket (8 bytes each, plus the group-by's).
SLICE_REPLIES: Final = 2_000_000


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
class _Series:
    metric: str
    values: list[float | None]
    settings: DetectorSettings


def find_report_spikes(
    volume: pl.DataFrame,
    reply_p95: pl.DataFrame,
    contributors: pl.DataFrame,
    options: SpikeSettings,
) -> tuple[Spike, ...]:
    """Spikes of one scope, from its bucket volume, its p95 reply time per bucket (see
    :func:`reply_p95`) and its contributors."""
    import polars as pl

    if volume.is_empty():
        return ()
    step = timedelta(seconds=options.bucket_seconds)
    first, last = volume[BUCKET].min(), volume[BUCKET].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    count = int((last - first) / step) + 1
    starts = [first + i * step for i in range(count)]
    grid = pl.DataFrame({BUCKET: starts}, schema={BUCKET: volume.schema[BUCKET]})
    table = grid.join(volume, on=BUCKET, how="left").join(
        reply_p95.select(BUCKET, "p95"), on=BUCKET, how="left"
    )
    tokens = [float(v or 0) for v in table["tokens"].to_list()]
    rates = [
        (errors / bots if bots and bots >= MIN_BOT_RECORDS else None)
        for errors, bots in zip(
            table["errors"].to_list(), table["bot_records"].to_list(), strict=True
        )
    ]
    detector = DetectorSettings(
        window=options.window, sensitivity=options.sensitivity, min_ratio=options.min_ratio
    )
    series = [
        _Series("tokens", list(tokens), _with_floor(detector, options.min_tokens)),
        _Series("response_ms.p95", table["p95"].to_list(), detector),
        _Series("errors.rate", rates, _with_floor(detector, ERROR_RATE_FLOOR)),
    ]
    spikes = []
    for item in series:
        for run in find_spikes(item.values, item.settings):
            window = starts[run.first : run.last + 1]
            spikes.append(
                Spike(
                    metric=item.metric,
                    start=_utc(starts[run.first]),
                    end=_utc(starts[run.last] + step),
                    buckets=run.last - run.first + 1,
                    peak=run.peak,
                    baseline=run.baseline.median,
                    threshold=run.baseline.threshold,
                    ratio=run.baseline.ratio(run.peak),
                    tokens=int(sum(tokens[run.first : run.last + 1])),
                    bots=_top(contributors, window, "bot_id"),
                    models=_top(contributors, window, "model"),
                    conversations=_top(contributors, window, "conversation_id"),
                )
            )
    return tuple(sorted(spikes, key=lambda s: (s.start, s.metric)))


def _with_floor(settings: DetectorSettings, floor: float) -> DetectorSettings:
    return replace(settings, floor=floor)


def reply_p95(replies: pl.LazyFrame, by: list[str], seconds: int) -> pl.LazyFrame:
    """The p95 reply time of each (group and) bucket with at least ``MIN_REPLIES`` replies."""
    import polars as pl

    ms = pl.col("response_ms")
    return replies.group_by(*by, _bucket(seconds)).agg(
        pl.when(pl.len() >= MIN_REPLIES)
        .then(ms.quantile(0.95, interpolation="linear"))
        .otherwise(None)
        .alias("p95")
    )


def replies_per_bucket(replies: pl.LazyFrame, seconds: int) -> pl.LazyFrame:
    """How many replies each bucket holds, in time order (what the slices are cut from)."""
    import polars as pl

    return replies.group_by(_bucket(seconds)).agg(pl.len().alias("replies")).sort(BUCKET)


def reply_p95_in_slices(
    replies: pl.LazyFrame,
    by: list[str],
    seconds: int,
    counts: pl.DataFrame | None = None,
    slice_rows: int = SLICE_REPLIES,
) -> pl.DataFrame:
    """:func:`reply_p95`, computed a slice of consecutive buckets at a time.

    An exact percentile needs every reply time of its bucket in memory at once; slices of
    about ``slice_rows`` replies keep that bounded however many buckets the input spans.
    Each slice is a filter on ``reply_at``, cheap when the replies are stored by time.
    ``counts`` is :func:`replies_per_bucket`, when already collected.
    """
    import polars as pl

    if counts is None:
        counts = replies_per_bucket(replies, seconds).collect()
    step = timedelta(seconds=seconds)
    parts = []
    for first, last in _slices(counts, slice_rows):
        at = pl.col("reply_at")
        part = replies.filter((at >= first) & (at < last + step))
        parts.append(reply_p95(part, by, seconds).collect(engine="streaming"))
    if not parts:
        return reply_p95(replies, by, seconds).collect()
    return pl.concat(parts)


def _slices(counts: pl.DataFrame, slice_rows: int) -> list[tuple[datetime, datetime]]:
    """Runs of consecutive buckets (the first and the last start) holding at most
    ``slice_rows`` replies, or a single bucket if it alone holds more."""
    slices: list[tuple[datetime, datetime]] = []
    first: datetime | None = None
    last: datetime | None = None
    held = 0
    for start, replies in counts.iter_rows():
        if first is not None and last is not None and held + replies > slice_rows:
            slices.append((first, last))
            first, held = None, 0
        first = start if first is None else first
        last = start
        held += replies
    if first is not None and last is not None:
        slices.append((first, last))
    return slices


def _bucket(seconds: int) -> pl.Expr:
    import polars as pl

    return pl.col("reply_at").dt.truncate(f"{seconds}s").alias(BUCKET)


def _top(
    contributors: pl.DataFrame, buckets: list[datetime], field: str
) -> tuple[Contributor, ...]:
    import polars as pl

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
