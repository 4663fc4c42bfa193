"""Country distribution of messages, from each record's ``country`` field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.schema import ROLE_OTHER

if TYPE_CHECKING:
    import polars as pl


def country_counts(frame: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Messages and distinct conversations per (group,) country; a null country is unknown."""
    import polars as pl

    return (
        frame.filter(pl.col("role") != ROLE_OTHER)
        .group_by([*by, "country"])
        .agg(
            pl.len().alias("messages"),
            pl.col("conversation_id").drop_nulls().n_unique().alias("conversations"),
        )
    )


def merge_country_counts(partials: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Combine :func:`country_counts` of record sets that share no conversation.

    Distinct conversations add up only because no conversation is split between the sets.
    """
    import polars as pl

    return partials.group_by([*by, "country"]).agg(
        pl.col("messages").sum(), pl.col("conversations").sum()
    )
