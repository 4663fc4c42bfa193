"""Cost per (group and) model: from the log's own cost field, else from the price table.

A message whose cost is neither logged nor priced (unknown model, or only a total token count
with no prompt/completion split) is *unpriced*: its tokens are counted apart, never as $0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.core.pricing import PriceBook, rates_type, record_cost
from botistat.core.schema import CACHE_FIELDS, ROLE_OTHER, TOKEN_FIELDS
from botistat.metrics.volume import record_tokens

if TYPE_CHECKING:
    import polars as pl

UNPRICED_TOKENS = (*TOKEN_FIELDS, *CACHE_FIELDS)
#: The flags that decide how a record is priced (see :func:`cost_by_model`).
FROM_TABLE, SPLIT, HAS_TOKENS = "\x00from_table", "\x00split", "\x00has_tokens"
#: The token counts a price table prices (a total alone cannot be priced).
PRICED_TOKENS = ("prompt_tokens", "completion_tokens", *CACHE_FIELDS)


def model_rates(frame: pl.LazyFrame, book: PriceBook) -> pl.LazyFrame:
    """The rates of each distinct model, looked up once each."""
    import polars as pl

    return (
        frame.select("model")
        .unique()
        .drop_nulls()
        .with_columns(
            pl.col("model").map_batches(book.rates, return_dtype=rates_type()).alias("rates")
        )
    )


def cost_by_model(frame: pl.LazyFrame, by: list[str], rates: pl.LazyFrame) -> pl.LazyFrame:
    """Cost and unpriced tokens per (group and) model.

    A model's rates are the same for all its records, so the token counts are summed first
    and priced after: the join and the arithmetic run on one row per model, not per record.
    """
    import polars as pl

    # Every per-record distinction below is one of three flags: records are summed per flag
    # combination first (a handful of rows per model), and the flags applied to those sums.
    kinds = {
        FROM_TABLE: pl.col("cost").is_null(),
        SPLIT: pl.any_horizontal(pl.col(name).is_not_null() for name in PRICED_TOKENS),
        HAS_TOKENS: pl.any_horizontal(pl.col(name).fill_null(0) > 0 for name in UNPRICED_TOKENS),
    }
    per_kind = (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .group_by([*by, "model", *(flag.alias(name) for name, flag in kinds.items())])
        .agg(
            pl.len().alias("records"),
            pl.col("cost").fill_null(0).sum().alias("usd_log"),
            *(pl.col(name).fill_null(0).sum() for name in PRICED_TOKENS),
            record_tokens().fill_null(0).sum().alias("record_total"),
        )
    )
    from_table, split, has_tokens = (pl.col(name) for name in kinds)
    # Unpriced either way: no split to price. Unpriced only if the model has no rates: split.
    no_split = from_table & ~split & has_tokens
    splittable = from_table & split & has_tokens

    def where(mask: pl.Expr, value: str) -> pl.Expr:
        return pl.when(mask).then(pl.col(value)).otherwise(0)

    sums = per_kind.group_by([*by, "model"]).agg(
        pl.col("records").sum(),
        pl.col("usd_log").sum(),
        where(~from_table, "records").sum().alias("log_records"),
        where(from_table & split, "records").sum().alias("split_records"),
        *(where(from_table, name).sum().alias(name) for name in PRICED_TOKENS),
        where(no_split, "records").sum().alias("no_split_records"),
        where(no_split, "record_total").sum().alias("no_split_total"),
        where(splittable, "records").sum().alias("splittable_records"),
        where(splittable, "record_total").sum().alias("splittable_total"),
        *(where(splittable, name).sum().alias(f"splittable_{name}") for name in PRICED_TOKENS),
    )
    rated = pl.col("rates").is_not_null()
    rate = pl.col("rates").struct.field

    def unpriced(name: str, splittable: str, always: pl.Expr) -> pl.Expr:
        return (always + pl.when(rated).then(0).otherwise(pl.col(splittable))).alias(name)

    return sums.join(rates, on="model", how="left").select(
        *by,
        "model",
        "records",
        "usd_log",
        "log_records",
        # The summed token columns keep their names, so a record's price formula applies.
        record_cost().fill_null(0.0).alias("usd_table"),
        pl.when(rated).then(pl.col("split_records")).otherwise(0).alias("table_records"),
        unpriced("unpriced_records", "splittable_records", pl.col("no_split_records")),
        *(unpriced(f"unpriced_{name}", f"splittable_{name}", pl.lit(0)) for name in PRICED_TOKENS),
        unpriced("unpriced_total_tokens", "splittable_total", pl.col("no_split_total")),
        rate("price_source").alias("price"),
    )


def merge_cost(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    import polars as pl

    return partials.group_by([*by, "model"]).agg(
        pl.exclude(*by, "model", "price").sum(), pl.col("price").drop_nulls().first()
    )
