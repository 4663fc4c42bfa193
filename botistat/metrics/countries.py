"""Country distribution of messages.

Each record's country is its own ``country`` field, else the country of its IP (see
:mod:`botistat.geo`); ``country_unknown`` says why a record has none. The functions here give
partial results per set of records; the ``merge_*`` functions combine the partials of record
sets that share no conversation (the partitions of a large input) into exact totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from botistat.core.schema import ROLE_OTHER, ROLE_USER
from botistat.geo.addresses import NO_IP, REASONS
from botistat.metrics.volume import record_tokens

if TYPE_CHECKING:
    import polars as pl

USER_SHARE_SEED: Final = 11
CARRIED_LOCATION: Final = "\x00carried_location"
#: Per unknown reason, a column counting the messages without a country for that reason.
REASON_COLUMNS = [f"unknown_{reason}" for reason in REASONS]


def attributed_to_user(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Records without a location of their own take their conversation's user's.

    In chat logs the client IP is on the user's message and the tokens on the bot's reply.
    A record with neither a country nor an IP (``country_unknown`` is ``no_ip``) takes the
    country, or the reason it has none, of the latest user record of its conversation at or
    before it (ties in input order) that has a location; without one it stays unknown. Needs
    each conversation whole (the report's partitions), and ``country`` already resolved.
    """
    import polars as pl

    order = "\x00order"
    reason = pl.col("country_unknown")
    located = reason.is_null() | (reason != NO_IP)
    offered = pl.when((pl.col("role") == ROLE_USER) & located).then(
        pl.struct(pl.col("country"), reason)
    )
    carried = offered.forward_fill().over("conversation_id", order_by=["timestamp", order])
    takes = ~located & pl.col("conversation_id").is_not_null()
    return (
        frame.with_row_index(order)
        .with_columns(carried.alias(CARRIED_LOCATION))
        .with_columns(
            pl.when(takes & pl.col(CARRIED_LOCATION).is_not_null())
            .then(pl.col(CARRIED_LOCATION).struct.field(name))
            .otherwise(pl.col(name))
            .alias(name)
            for name in ("country", "country_unknown")
        )
        .drop(order, CARRIED_LOCATION)
    )


def country_counts(frame: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Messages, distinct conversations and tokens per (group,) country; null is unknown."""
    import polars as pl

    reason = pl.col("country_unknown")
    return (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .group_by([*by, "country"])
        .agg(
            pl.len().alias("messages"),
            pl.col("conversation_id").drop_nulls().n_unique().alias("conversations"),
            record_tokens().sum().alias("tokens"),
            *((reason == r).sum().alias(c) for r, c in zip(REASONS, REASON_COLUMNS, strict=True)),
        )
    )


def country_users(frame: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """The distinct (group,) country and user pairs: users are not split by conversation."""
    import polars as pl

    return (
        frame.filter((pl.col("role") != ROLE_OTHER) & pl.col("user_id").is_not_null())
        .select(*by, "country", "user_id")
        .unique()
    )


def user_share(groups: int) -> pl.Expr:
    """Which of ``groups`` shares a pair of :func:`country_users` belongs to: all the pairs of
    a user fall in one share, so distinct users can be counted one share at a time."""
    import polars as pl

    return pl.col("user_id").hash(USER_SHARE_SEED) % groups


def merge_country_counts(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Combine :func:`country_counts` of record sets that share no conversation.

    Distinct conversations add up only because no conversation is split between the sets.
    """
    import polars as pl

    return partials.group_by([*by, "country"]).agg(pl.exclude(*by, "country").sum())


def count_country_users(shares: Sequence[pl.LazyFrame], by: list[str]) -> pl.DataFrame:
    """Distinct users per (group,) country from :func:`country_users` partials, given as
    shares that have no user in common (see :func:`user_share`); one share in memory at once.
    """
    import polars as pl

    keys = [*by, "country"]
    counts = [
        share.unique().group_by(keys).agg(pl.len().alias("users")).collect() for share in shares
    ]
    if not counts:
        return pl.DataFrame(schema={**{k: pl.String for k in keys}, "users": pl.UInt32})
    return pl.concat(counts).group_by(keys).agg(pl.col("users").sum())


def reply_times_by_country(replies: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Count and total of reply times per country of the user who was answered."""
    import polars as pl

    return (
        replies.group_by([*by, "user_country"])
        .agg(pl.len().alias("replies"), pl.col("response_ms").sum().alias("reply_ms_total"))
        .with_columns(pl.col("user_country").cast(pl.String))
    )
