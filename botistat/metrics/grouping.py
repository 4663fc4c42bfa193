"""The ``--by`` key: a record field, or a day / hour bucket of the timestamp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.errors import ConfigError
from botistat.schema import GROUP_FIELDS, GROUP_KEYS

if TYPE_CHECKING:
    import polars as pl

GROUP: Final = "group"


def group_expr(by: str, timezone: str = "UTC") -> pl.Expr:
    """The group label of each record, as a string column named ``group``."""
    import polars as pl

    if by in GROUP_FIELDS:
        return pl.col(by).alias(GROUP)
    local = pl.col("timestamp").dt.convert_time_zone(timezone)
    if by == "day":
        return local.dt.strftime("%Y-%m-%d").alias(GROUP)
    if by == "hour":
        return local.dt.strftime("%Y-%m-%d %H:00").alias(GROUP)
    raise ConfigError(f"cannot group by {by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}")
