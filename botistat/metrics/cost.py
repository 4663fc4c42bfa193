"""Cost per (group and) model: from the log's own cost field, else from the price table.

A message whose cost is neither logged nor priced (unknown model, or only a total token count
with no prompt/completion split) is *unpriced*: its tokens are counted apart, never as $0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.metrics.volume import record_tokens
from botistat.pricing import PriceBook, rates_type, record_cost
from botistat.schema import CACHE_FIELDS, ROLE_OTHER, TOKEN_FIELDS

if TYPE_CHECKING:
    import polars as pl

UNPRICED_TOKENS = (*TOKEN_FIELDS, *CACHE_FIELDS)


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
    import polars as pl

    logged = pl.col("cost")
    priced = record_cost()
    has_tokens = pl.any_horizontal(pl.col(name).fill_null(0) > 0 for name in UNPRICED_TOKENS)
    unpriced = logged.is_null() & priced.is_null() & has_tokens
    return (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .join(rates, on="model", how="left")
        .group_by([*by, "model"])
        .agg(
            pl.len().alias("records"),
            logged.fill_null(0).sum().alias("usd_log"),
            logged.is_not_null().sum().alias("log_records"),
            priced.filter(logged.is_null()).sum().alias("usd_table"),
            (logged.is_null() & priced.is_not_null()).sum().alias("table_records"),
            unpriced.sum().alias("unpriced_records"),
            *(
                pl.col(name).filter(unpriced).fill_null(0).sum().alias(f"unpriced_{name}")
                for name in UNPRICED_TOKENS
                if name != "total_tokens"
            ),
            # As in tokens.total: the logged total, else prompt + completion.
            record_tokens().filter(unpriced).sum().alias("unpriced_total_tokens"),
            pl.col("rates").struct.field("price_source").drop_nulls().first().alias("price"),
        )
    )


def merge_cost(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    import polars as pl

    return partials.group_by([*by, "model"]).agg(
        pl.exclude(*by, "model", "price").sum(), pl.col("price").drop_nulls().first()
    )
