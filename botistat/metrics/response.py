"""Response speed: time from a user's message to the bot's reply, per conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.schema import ROLE_BOT, ROLE_USER

if TYPE_CHECKING:
    import polars as pl

CONVERSATION_HASH: Final = "\x00conversation_hash"
HASH_SEED: Final = 7
#: The columns that say where the client of a conversation turn is.
USER_COUNTRY: Final = ("country",)
#: Percentiles reported, as (name, fraction). Linear interpolation between closest ranks,
#: which is numpy's default.
PERCENTILES: Final = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))


def response_times(
    frame: pl.LazyFrame, by: list[str], from_user: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """One row per reply: ``response_ms``, the reply's ``by`` columns, and the country of the
    user message it answers (``user_country``).

    Columns named in ``from_user`` are taken from the user message instead of the reply: a
    reply's country is the country of the client who waited for it.

    Within each conversation, failed bot records are dropped and the rest ordered by timestamp
    (ties keep input order). Every bot record that directly follows a user record is a reply,
    timed from that user record. A multi-part reply therefore counts once, and a retry after a
    failed attempt is timed from the user's message. Records without a conversation id cannot
    be paired and are left out.
    """
    import polars as pl

    role = pl.col("role")
    conversation = pl.col("conversation_id")
    ordered = (
        frame.filter(
            ~pl.col("exchange")
            & conversation.is_not_null()
            & ((role == ROLE_USER) | ((role == ROLE_BOT) & ~pl.col("failed")))
        )
        .select("conversation_id", "timestamp", "role", *USER_COUNTRY, *by)
        # Sorting on a hash of the id first is much faster than on the string; the id itself
        # breaks ties, so colliding conversations are still kept apart.
        .with_columns(conversation.hash(HASH_SEED).alias(CONVERSATION_HASH))
        .sort([CONVERSATION_HASH, "conversation_id", "timestamp"], maintain_order=True)
    )
    own = [pl.col(name) for name in by if name not in from_user]
    asked = [pl.col(name).shift(1).alias(name) for name in from_user]
    asked += [
        pl.col(name).shift(1).cast(pl.Categorical).alias(f"user_{name}") for name in USER_COUNTRY
    ]
    is_reply = (
        (role == ROLE_BOT) & (role.shift(1) == ROLE_USER) & (conversation.shift(1) == conversation)
    )
    elapsed = pl.col("timestamp") - pl.col("timestamp").shift(1)
    paired = (
        ordered.select(
            *own,
            *asked,
            pl.col("timestamp").alias("reply_at"),
            (elapsed.dt.total_microseconds() / 1000.0).alias("response_ms"),
            is_reply.alias("is_reply"),
        )
        .filter(pl.col("is_reply"))
        .drop("is_reply")
    )
    # An exchange-shaped record measured its own response time; both of its messages share
    # every field, so what the reply "asks" of its user message is its own value.
    direct = frame.filter(pl.col("exchange") & pl.col("latency_ms").is_not_null()).select(
        *own,
        *(pl.col(name) for name in from_user),
        *(pl.col(name).cast(pl.Categorical).alias(f"user_{name}") for name in USER_COUNTRY),
        pl.col("timestamp").alias("reply_at"),
        pl.col("latency_ms").alias("response_ms"),
    )
    return pl.concat([paired, direct], how="vertical")


def response_summary(replies: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Count, mean, percentiles and maximum of ``response_ms`` per group."""
    import polars as pl

    ms = pl.col("response_ms")
    aggregations = [
        pl.len().alias("count"),
        ms.mean().alias("avg"),
        *(ms.quantile(q, interpolation="linear").alias(name) for name, q in PERCENTILES),
        ms.max().alias("max"),
    ]
    if by:
        return replies.group_by(by).agg(aggregations)
    return replies.select(aggregations)
