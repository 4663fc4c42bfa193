"""The conversations, users and models that used the most tokens, with their messages and cost.

Partial: :func:`usage_by_owner` of any piece of the records, then :func:`top_usage` of its
rows: tokens, messages, USD and unpriced messages per conversation, user and model. Merge:
:func:`merge_top_usage` sums per name, then keeps the first ``n`` of each field by tokens
(descending), ties broken by name (ascending).

A conversation's totals are final within a piece that holds it whole (the report's
partitions), so there a piece keeps only its first ``n`` conversations: with one strict order
(tokens, then name), each of the overall first ``n`` is among the first ``n`` of its own piece.
Users and models span pieces: every piece keeps all of theirs, summed before the cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.core.pricing import record_cost
from botistat.core.schema import ROLE_OTHER
from botistat.metrics.cost import PRICED_TOKENS, UNPRICED_TOKENS
from botistat.metrics.volume import record_tokens

if TYPE_CHECKING:
    import polars as pl

TOP_ITEMS: Final = 10
#: The fields ranked, as (field, key in the report).
TOP_FIELDS: Final = (
    ("conversation_id", "conversations"),
    ("user_id", "users"),
    ("model", "models"),
)
TOP_SUMS: Final = ("tokens", "messages", "usd", "unpriced")


def usage_by_owner(frame: pl.LazyFrame, rates: pl.LazyFrame) -> pl.LazyFrame:
    """Tokens, messages, USD and unpriced messages per (conversation, user, model).

    One group-by over the records serves all three rankings: a conversation mostly has one
    user and one model, so this is about one row per conversation. A message is priced as
    :func:`botistat.metrics.cost.cost_by_model` prices it: its logged cost, else its tokens
    at its model's rates; unpriced when it has tokens but no split or no rates.
    """
    import polars as pl

    from_table = pl.col("cost").is_null()
    split = pl.any_horizontal(pl.col(name).is_not_null() for name in PRICED_TOKENS)
    has_tokens = pl.any_horizontal(pl.col(name).fill_null(0) > 0 for name in UNPRICED_TOKENS)
    owners = [field for field, _ in TOP_FIELDS]
    # Per-record columns first, then plain sums: an expression inside the aggregation (a
    # filter, a mask) would be evaluated group by group, several times slower.
    sums = (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .select(
            *owners,
            record_tokens().alias("tokens"),
            pl.col("cost").alias("usd_log"),
            # Under their own names, so a record's price formula applies to the sums.
            *(pl.when(from_table).then(pl.col(name)).alias(name) for name in PRICED_TOKENS),
            (from_table & ~split & has_tokens).alias("no_split"),
            (from_table & split & has_tokens).alias("splittable"),
        )
        .group_by(owners)
        .agg(pl.len().alias("messages"), pl.exclude(owners).sum())
    )
    rated = pl.col("rates").is_not_null()
    return sums.join(rates, on="model", how="left").select(
        *owners,
        "tokens",
        "messages",
        (pl.col("usd_log") + record_cost().fill_null(0.0)).alias("usd"),
        (pl.col("no_split") + pl.when(rated).then(0).otherwise(pl.col("splittable"))).alias(
            "unpriced"
        ),
    )


def top_usage(owners: pl.DataFrame, n: int = TOP_ITEMS, *, whole: bool = True) -> pl.DataFrame:
    """Per field and name (a conversation, user or model; records without one are left out):
    ``tokens``, ``messages``, ``usd``, ``unpriced``, from :func:`usage_by_owner` of a piece.
    With ``whole`` (each conversation's records all in this piece), conversations are cut to
    the first ``n`` here.

    It takes the collected rows: three group-bys of them cost a few milliseconds, but run
    lazily beside a report's other queries they cost several times as much.
    """
    import polars as pl

    parts = []
    for field, _ in TOP_FIELDS:
        totals = (
            owners.lazy()
            .filter(pl.col(field).is_not_null())
            .group_by(field)
            .agg(pl.col(*TOP_SUMS).sum())
            .rename({field: "name"})
        )
        if field == "conversation_id" and whole:
            totals = _first(totals, n)
        parts.append(totals.select(pl.lit(field).alias("field"), "name", *TOP_SUMS))
    return pl.concat(parts).collect()


def merge_top_usage(partials: pl.LazyFrame, n: int = TOP_ITEMS) -> pl.LazyFrame:
    """Sum per field and name, keep the names with tokens and, of each field, the first ``n``
    by tokens, then name."""
    import polars as pl

    sums = partials.group_by("field", "name").agg(pl.col(*TOP_SUMS).sum())
    # A rank within the field rather than group_by().head(n): head(0) gives each group a row
    # of nulls.
    rank = pl.int_range(pl.len()).over("field")
    return (
        sums.filter(pl.col("tokens") > 0)
        .sort(["tokens", "name"], descending=[True, False])
        .filter(rank < n)
    )


def _first(totals: pl.LazyFrame, n: int) -> pl.LazyFrame:
    return totals.sort(["tokens", "name"], descending=[True, False]).head(n)
