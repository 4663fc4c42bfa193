"""Repeated usage: records that share a message id are one message.

Some SDKs log one model response as several lines, each repeating (or growing) the same usage
object. Grouped by conversation and message id, such records become one: the earliest
timestamp, the largest value of each usage field, the first value of each descriptive field,
failed or errored if any part was. Records without a message id are left as they are.

The conversation is part of the key: an id repeated in two conversations (a client that
numbers messages per conversation) is two messages, and every engine can merge within a
conversation, which each has whole (a report's partitions, a worker's share), or carries
(a watch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.core.schema import CACHE_FIELDS, TOKEN_FIELDS

if TYPE_CHECKING:
    import polars as pl

#: What makes records one message.
MESSAGE_KEY: Final = ("conversation_id", "message_id")


def merge_repeated(frame: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    columns = frame.collect_schema().names()
    largest = [*TOKEN_FIELDS, *CACHE_FIELDS, "cost", "latency_ms"]
    aggregations = []
    for name in columns:
        if name in MESSAGE_KEY:
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
        .group_by(MESSAGE_KEY, maintain_order=True)
        .agg(aggregations)
        .select(columns)
    )
    return pl.concat([single, merged], how="vertical")


def merged_count(frame: pl.LazyFrame) -> pl.LazyFrame:
    """How many records were folded into another (records with an id minus distinct
    messages)."""
    import polars as pl

    with_id = frame.filter(pl.col("message_id").is_not_null())
    return with_id.select((pl.len() - pl.struct(MESSAGE_KEY).n_unique()).alias("merged"))
