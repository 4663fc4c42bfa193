"""Per time bucket series for the spike detector: tokens, errors, and who used the tokens.

Like the other partials, these combine exactly across partitions: sums add up, and since a
conversation never spans partitions, the top conversations of a bucket are among the top
conversations of some partition.
"""

from __future__ import annotations

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
    frame: pl.LazyFrame, by: list[str], seconds: int, field: str
) -> pl.LazyFrame:
    """Tokens per (group,) bucket and value of one field.

    Conversations are cut to the top few per bucket here (there can be millions); bots and
    models are kept whole, since they are few and their sums must add up across partitions.
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
    if field == "conversation_id":
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


def merge_contributors(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Sum per name (bots and models appear in several partitions), keep the top ones."""
    import polars as pl

    return (
        partials.group_by([*by, BUCKET, "field", "name"])
        .agg(pl.col("tokens").sum())
        .sort("tokens", "name", descending=[True, False])
        .group_by([*by, BUCKET, "field"], maintain_order=True)
        .head(TOP_CONTRIBUTORS)
    )
