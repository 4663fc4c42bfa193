"""Repeated usage: records that share a message id are one message.

Some SDKs log one model response as several lines, each repeating (or growing) the same usage
object. Grouped by message id, such records become one: the earliest timestamp, the largest
value of each usage field, the first value of each descriptive field, failed or errored if any
part was. Records without a message id are left as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.core.schema import CACHE_FIELDS, TOKEN_FIELDS

if TYPE_CHECKING:
    import polars as pl


def merge_repeated(frame: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    columns = frame.collect_schema().names()
    largest = [*TOKEN_FIELDS, *CACHE_FIELDS, "cost", "latency_ms"]
    aggregations = []
    for name in columns:
        if name == "message_id":
            continue
        column = pl.col(name)
        if name == "timestamp":
            aggregations.append(column.min())
        elif name in ("failed", "error"):
            aggregations.append(column.any())
        elif name in largest:
            aggregations.append(column.max())
        else:  # descriptive fields: conversation, role, model, country...
            aggregations.append(column.drop_nulls().first())
    single = frame.filter(pl.col("message_id").is_null())
    merged = (
        frame.filter(pl.col("message_id").is_not_null())
        .group_by("message_id", maintain_order=True)
        .agg(aggregations)
        .select(columns)
    )
    return pl.concat([single, merged], how="vertical")


def merged_count(frame: pl.LazyFrame) -> pl.LazyFrame:
    """How many records were folded into another (records with an id minus distinct ids)."""
    import polars as pl

    ids = pl.col("message_id")
    return frame.select((ids.is_not_null().sum() - ids.drop_nulls().n_unique()).alias("merged"))
