"""Reply times per time bucket: how many replies, and their p95 (what spike detection judges).

A bucket's replies are those whose reply (the bot's message) falls in it. Partials are the
reply rows themselves (see :mod:`botistat.metrics.response`); they merge by concatenation,
so the p95 stays exact however the records were split.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

from botistat.metrics.buckets import BUCKET, bucket_end

if TYPE_CHECKING:
    import polars as pl

#: A bucket's p95 is judged only with at least this many replies (fewer say little).
MIN_REPLIES: Final = 5
#: Reply times held at once to take the p95 per bucket (8 bytes each, plus the group-by's).
SLICE_REPLIES: Final = 2_000_000


def reply_bucket(seconds: int) -> pl.Expr:
    """The start of the time bucket of each reply (UTC, aligned to the epoch)."""
    import polars as pl

    return pl.col("reply_at").dt.truncate(f"{seconds}s").alias(BUCKET)


def reply_p95(replies: pl.LazyFrame, by: list[str], seconds: int) -> pl.LazyFrame:
    """Replies per (group and) bucket, and their p95 when there are at least
    ``MIN_REPLIES`` (linear interpolation, as the overall percentiles)."""
    import polars as pl

    ms = pl.col("response_ms")
    return replies.group_by(*by, reply_bucket(seconds)).agg(
        pl.len().alias("replies"),
        pl.when(pl.len() >= MIN_REPLIES)
        .then(ms.quantile(0.95, interpolation="linear"))
        .otherwise(None)
        .alias("p95"),
    )


def replies_per_bucket(replies: pl.LazyFrame, seconds: int) -> pl.LazyFrame:
    """How many replies each bucket holds, in time order (what the slices are cut from)."""
    import polars as pl

    return replies.group_by(reply_bucket(seconds)).agg(pl.len().alias("replies")).sort(BUCKET)


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
    parts = []
    at = pl.col("reply_at")
    for first, last in _slices(counts, slice_rows):
        within = at >= first
        end = bucket_end(last, seconds)
        if end is not None:  # None: the last bucket ends past what a datetime holds
            within &= at < end
        part = replies.filter(within)
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
