"""Parse every supported timestamp style into UTC, as one vectorized Polars expression.

Supported, and freely mixed within one column:
- ISO 8601 with ``Z`` or an offset (``2026-11-19T23:10:05.120+02:00``), ``T`` or a space
  between date and time, any number of fractional digits;
- naive ISO 8601, read in the configured time zone (UTC by default);
- epoch numbers, as JSON numbers or numeric strings, with the unit told by magnitude:
  below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
  (1e11 seconds is the year 5138; 1e11 milliseconds is March 1973.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import polars as pl

ISO_AWARE: Final = "%Y-%m-%dT%H:%M:%S%.f%z"
ISO_NAIVE: Final = "%Y-%m-%dT%H:%M:%S%.f"
#: Magnitude limits and the factor that turns each epoch unit into microseconds.
_SECONDS_BELOW: Final = 10**11
_MILLIS_BELOW: Final = 10**14
_MICROS_BELOW: Final = 10**17


def parse_timestamp(raw: pl.Expr, timezone: str = "UTC") -> pl.Expr:
    """A ``Datetime('us', 'UTC')`` expression from a string column; null where unreadable."""
    import polars as pl

    text = raw.str.strip_chars()
    return pl.coalesce(_from_epoch(text), _from_iso(text, timezone))


def _from_epoch(text: pl.Expr) -> pl.Expr:
    import polars as pl

    whole = text.cast(pl.Int64, strict=False)
    size = whole.abs()
    # Integers are scaled exactly; only fractional epochs go through floating point.
    micros_from_int = (
        pl.when(size < _SECONDS_BELOW)
        .then(whole * 1_000_000)
        .when(size < _MILLIS_BELOW)
        .then(whole * 1_000)
        .when(size < _MICROS_BELOW)
        .then(whole)
        .otherwise(whole // 1_000)
    )
    number = text.cast(pl.Float64, strict=False)
    size_f = number.abs()
    micros_from_float = (
        pl.when(~number.is_finite())
        .then(None)
        .when(size_f < _SECONDS_BELOW)
        .then(number * 1e6)
        .when(size_f < _MILLIS_BELOW)
        .then(number * 1e3)
        .when(size_f < _MICROS_BELOW)
        .then(number)
        .otherwise(number / 1e3)
        .round()
        .cast(pl.Int64, strict=False)
    )
    micros = pl.coalesce(micros_from_int, micros_from_float)
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _from_iso(text: pl.Expr, timezone: str) -> pl.Expr:
    import polars as pl

    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"[zZ]$", "+00:00")
    aware = iso.str.to_datetime(ISO_AWARE, strict=False, time_unit="us", time_zone="UTC")
    naive = (
        iso.str.to_datetime(ISO_NAIVE, strict=False, time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.coalesce(aware, naive)
