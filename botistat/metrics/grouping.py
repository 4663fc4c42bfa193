"""The ``--by`` key: a record field, or a day / hour / week / month bucket of the timestamp."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Final

from botistat.core.errors import ConfigError
from botistat.core.schema import GROUP_FIELDS, GROUP_KEYS

if TYPE_CHECKING:
    import polars as pl

GROUP: Final = "group"
#: How a date key reads, per time bucket (``%G-W%V``: the ISO year and week, ``2026-W47``).
DATE_LABELS: Final = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}


def group_expr(by: str, timezone: str = "UTC") -> pl.Expr:
    """The group key of each record, in a compact type: categorical for a field, the local
    date for ``day`` (the Monday for ``week``, the first day for ``month``) and the local hour
    (naive) for ``hour``; see :func:`group_label`."""
    import polars as pl

    if by in GROUP_FIELDS:
        return pl.col(by).cast(pl.Categorical).alias(GROUP)
    local = pl.col("timestamp").dt.convert_time_zone(timezone)
    if by == "day":
        return local.dt.date().alias(GROUP)
    # A date, not text: the records are grouped on 4 bytes each, the label is made per group.
    if by == "week":
        return local.dt.date().dt.truncate("1w").alias(GROUP)  # Polars' weeks start on Monday
    if by == "month":
        return local.dt.date().dt.truncate("1mo").alias(GROUP)
    if by == "hour":
        return local.dt.truncate("1h").dt.replace_time_zone(None).alias(GROUP)
    raise ConfigError(f"cannot group by {by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}")


def group_label(key: object, by: str | None = None) -> str | None:
    """The text of a group key: ``2026-11-19`` for a day, ``2026-11-19 13:00`` for an hour,
    ``2026-W47`` for a week (ISO 8601: the year its Thursday falls in, zero-padded so labels
    sort in time order), ``2026-11`` for a month."""
    if key is None:
        return None
    if isinstance(key, datetime):
        return key.strftime("%Y-%m-%d %H:00")
    if isinstance(key, date):
        return key.strftime(DATE_LABELS.get(by or "day", DATE_LABELS["day"]))
    return str(key)
