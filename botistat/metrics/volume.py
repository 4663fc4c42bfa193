"""Message volume, tokens and API errors: counts and sums, so they stream in constant memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.core.schema import ROLE_BOT, ROLE_OTHER, ROLE_USER

if TYPE_CHECKING:
    import polars as pl


def record_tokens() -> pl.Expr:
    """A record's total tokens: ``total_tokens`` where present, else prompt + completion."""
    import polars as pl

    return pl.coalesce(
        pl.col("total_tokens"),
        pl.col("prompt_tokens").fill_null(0) + pl.col("completion_tokens").fill_null(0),
    )


def volume(frame: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """One row per group (one row in all when ``by`` is empty) of counts and sums.

    Records whose role is neither user nor bot are not messages (ingestion counts them as
    ignored and leaves them out; here they would count nowhere).
    """
    import polars as pl

    role = pl.col("role")
    is_message = role != ROLE_OTHER
    is_bot = role == ROLE_BOT
    failed = pl.col("failed")
    error = pl.col("error")

    def message_sum(expr: pl.Expr) -> pl.Expr:
        return expr.filter(is_message).sum()

    aggregations = [
        is_message.sum().alias("messages_total"),
        (role == ROLE_USER).sum().alias("messages_user"),
        (is_bot & ~failed).sum().alias("messages_bot_responses"),
        (is_message & failed).sum().alias("messages_failed"),
        message_sum(pl.col("prompt_tokens").fill_null(0)).alias("tokens_prompt"),
        message_sum(pl.col("completion_tokens").fill_null(0)).alias("tokens_completion"),
        message_sum(record_tokens()).alias("tokens_total"),
        message_sum(pl.col("cache_read_tokens").fill_null(0)).alias("tokens_cache_read"),
        message_sum(pl.col("cache_write_tokens").fill_null(0)).alias("tokens_cache_write"),
        record_tokens().filter(is_message & error).sum().alias("tokens_error"),
        (is_bot & error).sum().alias("errors_transactions"),
        is_bot.sum().alias("bot_records"),
        pl.col("timestamp").min().alias("first_timestamp"),
        pl.col("timestamp").max().alias("last_timestamp"),
    ]
    if by:
        return frame.group_by(by).agg(aggregations)
    return frame.select(aggregations)


def merge_volume(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Combine :func:`volume` results of disjoint sets of records into one per group."""
    import polars as pl

    aggregations = [
        pl.exclude("first_timestamp", "last_timestamp", *by).sum(),
        pl.col("first_timestamp").min(),
        pl.col("last_timestamp").max(),
    ]
    if by:
        return partials.group_by(by).agg(aggregations)
    return partials.select(aggregations)
