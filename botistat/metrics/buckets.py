"""Per time bucket series: messages, tokens, errors, and who used the tokens.

Partial: :func:`bucket_volume` and :func:`bucket_contributors` of any piece of the records.
Merge: sums (:func:`merge_bucket_volume`, :func:`merge_contributors`), exact however the
records were split, with one exception stated at :func:`bucket_contributors`: cutting the
conversations to a bucket's top few inside a piece is exact only when no conversation spans
pieces (the report's partitions). Finalize: :func:`bucket_grid` lays the buckets out in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from botistat.core.schema import ROLE_BOT, ROLE_OTHER
from botistat.metrics.volume import record_tokens

if TYPE_CHECKING:
    import polars as pl

BUCKET: Final = "bucket"
TOP_CONTRIBUTORS: Final = 5
#: Who a spike's tokens are attributed to.
CONTRIBUTOR_FIELDS: Final = ("bot_id", "model", "conversation_id")


def bucket_expr(seconds: int) -> pl.Expr:
    """The start of each record's time bucket (UTC, aligned to the epoch)."""
    import polars as pl

    return pl.col("timestamp").dt.truncate(f"{seconds}s").alias(BUCKET)


def bucket_volume(frame: pl.LazyFrame, by: list[str], seconds: int) -> pl.LazyFrame:
    """Tokens, bot records and bot records with an API error, per (group,) bucket."""
    import polars as pl

    is_bot = pl.col("role") == ROLE_BOT
    return (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .group_by([*by, bucket_expr(seconds)])
        .agg(
            pl.len().alias("messages"),
            record_tokens().sum().alias("tokens"),
            is_bot.sum().alias("bot_records"),
            (is_bot & pl.col("error")).sum().alias("errors"),
        )
    )


def bucket_contributors(
    frame: pl.LazyFrame, by: list[str], seconds: int, field: str, *, whole: bool = True
) -> pl.LazyFrame:
    """Tokens per (group,) bucket and value of one field.

    With ``whole`` (each conversation's records all in this piece), conversations are cut to
    the top few per bucket here (there can be millions): a bucket's top conversations are
    then among the top few of some piece. Bots and models are kept whole, since they are few
    and their sums must add up across pieces; so are conversations without ``whole``.
    """
    import polars as pl

    totals = (
        # Records without tokens add nothing to any sum: leaving them out halves the work.
        frame.filter(
            (pl.col("role") != ROLE_OTHER)
            & pl.col(field).is_not_null()
            & (record_tokens().fill_null(0) != 0)
        )
        .group_by([*by, bucket_expr(seconds), field])
        .agg(record_tokens().sum().alias("tokens"))
        .filter(pl.col("tokens") > 0)
    )
    if field == "conversation_id" and whole:
        # Only the totals that can be among a bucket's top few are sorted: those of at least
        # its fifth-largest total (all ties at the cut kept; the name breaks them).
        cut = pl.col("tokens").top_k(TOP_CONTRIBUTORS).min().over([*by, BUCKET])
        totals = (
            totals.filter(pl.col("tokens") >= cut)
            .sort("tokens", field, descending=[True, False])
            .group_by([*by, BUCKET], maintain_order=True)
            .head(TOP_CONTRIBUTORS)
        )
    return totals.rename({field: "name"}).with_columns(
        pl.lit(field).alias("field"), pl.col("name").cast(pl.String)
    )


def merge_bucket_volume(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    import polars as pl

    return partials.group_by([*by, BUCKET]).agg(pl.exclude(*by, BUCKET).sum())


def merge_contributors(
    partials: pl.LazyFrame, by: list[str], top: int | None = TOP_CONTRIBUTORS
) -> pl.LazyFrame:
    """Sum per name (bots and models appear in several pieces); keep the ``top`` ones of each
    bucket and field (all of them with None)."""
    import polars as pl

    sums = partials.group_by([*by, BUCKET, "field", "name"]).agg(pl.col("tokens").sum())
    if top is None:
        return sums
    return (
        sums.sort("tokens", "name", descending=[True, False])
        .group_by([*by, BUCKET, "field"], maintain_order=True)
        .head(top)
    )


def bucket_end(start: datetime, seconds: int) -> datetime | None:
    """When the bucket starting at ``start`` ends; None past the last time a datetime holds
    (a bucket of year 9999)."""
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        return None


def bucket_grid(starts: list[datetime], seconds: int, max_gap: int | None) -> list[datetime]:
    """Bucket starts from the first to the last of ``starts`` (sorted, those with data), the
    empty buckets between included; a run of more than ``max_gap`` empty buckets is cut to
    ``max_gap`` of them, so the work is bounded by the data, not by the time it spans."""
    step = timedelta(seconds=seconds)
    grid: list[datetime] = []
    for previous, start in zip([None, *starts], starts, strict=False):
        if previous is not None:
            empty = int((start - previous) / step) - 1
            shown = empty if max_gap is None else min(empty, max_gap)
            grid.extend(previous + step * (i + 1) for i in range(shown))
        grid.append(start)
    return grid
