"""Response speed: time from a user's message to the bot's reply, per conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.core.schema import ROLE_BOT, ROLE_USER

if TYPE_CHECKING:
    import polars as pl

CONVERSATION_HASH: Final = "\x00conversation_hash"
#: Marks the turns carried over from an earlier piece (see :func:`replies_after`).
CARRIED: Final = "\x00carried"
HASH_SEED: Final = 7
#: Conversation order: the id itself breaks ties of its hash, so colliding ids stay apart.
EXACT_ORDER: Final = (CONVERSATION_HASH, "conversation_id", "timestamp")
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

    This is the plain form; a report computes the same from :func:`conversation_turns`, made
    faster by :func:`in_conversation_order`, then :func:`paired_replies` and
    :func:`direct_replies`.
    """
    import polars as pl

    turns = conversation_turns(frame, by, from_user).sort(list(EXACT_ORDER), maintain_order=True)
    return pl.concat(
        [paired_replies(turns, by, from_user), direct_replies(frame, by, from_user)],
        how="vertical",
    )


def conversation_turns(
    frame: pl.LazyFrame, by: list[str], from_user: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """The records that can take part in a reply pair, each conversation's together in input
    order: stably sorted by a hash of the conversation id (a sort on one integer is several
    times faster than on the id and the time)."""
    import polars as pl

    role = pl.col("role")
    conversation = pl.col("conversation_id")
    return (
        frame.filter(
            ~pl.col("exchange")
            & conversation.is_not_null()
            & ((role == ROLE_USER) | ((role == ROLE_BOT) & ~pl.col("failed")))
        )
        .select("conversation_id", "timestamp", "role", *USER_COUNTRY, *by)
        .with_columns(conversation.hash(HASH_SEED).alias(CONVERSATION_HASH))
        .sort(CONVERSATION_HASH, maintain_order=True)
    )


def in_conversation_order(turns: pl.DataFrame) -> pl.DataFrame:
    """:func:`conversation_turns` ordered by conversation, then time (ties in input order).

    Logs are mostly written in time order, and then the turns already are in that order: this
    checks it, two comparisons a row. Only if a conversation's records are out of time order,
    or two ids share a hash, are they sorted by hash, id and time.
    """
    import polars as pl

    same = pl.col(CONVERSATION_HASH) == pl.col(CONVERSATION_HASH).shift(1)
    earlier = pl.col("timestamp") < pl.col("timestamp").shift(1)
    other = pl.col("conversation_id") != pl.col("conversation_id").shift(1)
    if turns.select((same & (earlier | other)).any()).item():
        return turns.sort(list(EXACT_ORDER), maintain_order=True)
    return turns


def paired_replies(
    ordered: pl.LazyFrame,
    by: list[str],
    from_user: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
) -> pl.LazyFrame:
    """The replies among turns in conversation order (see :func:`response_times`); columns
    named in ``keep`` are the reply's own, passed through."""
    import polars as pl

    role = pl.col("role")
    conversation = pl.col("conversation_id")
    own = [pl.col(name) for name in by if name not in from_user]
    asked = [pl.col(name).shift(1).alias(name) for name in from_user]
    asked += [
        pl.col(name).shift(1).cast(pl.Categorical).alias(f"user_{name}") for name in USER_COUNTRY
    ]
    is_reply = (
        (role == ROLE_BOT) & (role.shift(1) == ROLE_USER) & (conversation.shift(1) == conversation)
    )
    elapsed = pl.col("timestamp") - pl.col("timestamp").shift(1)
    return (
        ordered.select(
            *own,
            *asked,
            *keep,
            pl.col("timestamp").alias("reply_at"),
            (elapsed.dt.total_microseconds() / 1000.0).alias("response_ms"),
            is_reply.alias("is_reply"),
        )
        .filter(pl.col("is_reply"))
        .drop("is_reply")
    )


def replies_after(
    carry: pl.DataFrame, turns: pl.DataFrame, by: list[str], from_user: tuple[str, ...] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The replies among ``turns`` (:func:`conversation_turns` of a piece of the records,
    collected) in conversations that may have begun in earlier pieces, and the new carry.

    ``carry`` is the last turn of each conversation seen so far (an empty frame at first, then
    what the previous call returned): a piece's first bot message pairs with the user message
    that ended the previous piece. Pieces must come in time order, as live logs do (a record
    older than its conversation's carried turn is ordered before it, and cannot be paired
    with what came before that); the report instead pairs whole conversations.
    """
    import polars as pl

    carried = pl.lit(True).alias(CARRIED)
    both = pl.concat(
        [carry.with_columns(carried), turns.with_columns(~carried)], how="vertical_relaxed"
    )
    # Grouped by conversation again (carried turns first), as in_conversation_order expects.
    ordered = in_conversation_order(both.sort(CONVERSATION_HASH, maintain_order=True))
    replies = (
        paired_replies(ordered.lazy(), by, from_user, keep=(CARRIED,))
        .filter(~pl.col(CARRIED))
        .drop(CARRIED)
        .collect()
    )
    last = ordered.drop(CARRIED).unique("conversation_id", keep="last", maintain_order=True)
    return replies, last


def direct_replies(
    frame: pl.LazyFrame, by: list[str], from_user: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """The replies of exchange-shaped records, which measured their own response time."""
    import polars as pl

    own = [pl.col(name) for name in by if name not in from_user]
    # Both messages of an exchange share every field, so what the reply "asks" of its user
    # message is its own value.
    return frame.filter(pl.col("exchange") & pl.col("latency_ms").is_not_null()).select(
        *own,
        *(pl.col(name) for name in from_user),
        *(pl.col(name).cast(pl.Categorical).alias(f"user_{name}") for name in USER_COUNTRY),
        pl.col("timestamp").alias("reply_at"),
        pl.col("latency_ms").alias("response_ms"),
    )


def response_summary(
    replies: pl.LazyFrame, by: list[str], *, percentiles: bool = True
) -> pl.LazyFrame:
    """Count, mean, percentiles and maximum of ``response_ms`` per group.

    Without ``percentiles`` their columns are null: over all replies at once they are faster
    read off :func:`sorted_response_times` (see :func:`with_percentiles`).
    """
    import polars as pl

    ms = pl.col("response_ms")
    aggregations = [
        pl.len().alias("count"),
        ms.mean().alias("avg"),
        *(
            (
                ms.quantile(q, interpolation="linear") if percentiles else pl.lit(None, pl.Float64)
            ).alias(name)
            for name, q in PERCENTILES
        ),
        ms.max().alias("max"),
    ]
    if by:
        return replies.group_by(by).agg(aggregations)
    return replies.select(aggregations)


def sorted_response_times(replies: pl.LazyFrame) -> pl.LazyFrame:
    """Every reply time, in order. Polars sorts a column once for each percentile asked of
    it (four sorts of millions of values), but reads any percentile of a sorted one at once."""
    import polars as pl

    return replies.select(pl.col("response_ms").drop_nulls().sort())


def with_percentiles(summary: pl.DataFrame, ordered: pl.Series) -> pl.DataFrame:
    """The one-row overall :func:`response_summary`, its percentiles taken from the sorted
    reply times (the same values as :func:`response_summary` computes)."""
    import polars as pl

    return summary.with_columns(
        pl.lit(ordered.quantile(q, interpolation="linear"), pl.Float64).alias(name)
        for name, q in PERCENTILES
    )
