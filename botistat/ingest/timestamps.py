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

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from botistat.ingest.cascade import read_in_steps
from botistat.ingest.iso import localized, read_iso, strptime

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

    # Integers are scaled exactly; only fractional epochs go through floating point.
    micros = pl.coalesce(
        _micros_from_int(text.cast(pl.Int64, strict=False)),
        _micros_from_float(text.cast(pl.Float64, strict=False)),
    )
    return micros.cast(pl.Datetime("us", "UTC"))


def _micros_from_int(whole: pl.Expr) -> pl.Expr:
    import polars as pl

    size = whole.abs()
    return (
        pl.when(size < _SECONDS_BELOW)
        .then(whole * 1_000_000)
        .when(size < _MILLIS_BELOW)
        .then(whole * 1_000)
        .when(size < _MICROS_BELOW)
        .then(whole)
        .otherwise(whole // 1_000)
    )


def _micros_from_float(number: pl.Expr) -> pl.Expr:
    import polars as pl

    size = number.abs()
    return (
        pl.when(~number.is_finite())
        .then(None)
        .when(size < _SECONDS_BELOW)
        .then(number * 1e6)
        .when(size < _MILLIS_BELOW)
        .then(number * 1e3)
        .when(size < _MICROS_BELOW)
        .then(number)
        .otherwise(number / 1e3)
        .round()
        .cast(pl.Int64, strict=False)
    )


def _from_iso(text: pl.Expr, timezone: str) -> pl.Expr:
    import polars as pl

    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"[zZ]$", "+00:00")
    aware = strptime(iso, ISO_AWARE, "UTC")
    naive = localized(strptime(iso, ISO_NAIVE), timezone)
    return pl.coalesce(aware, naive)


def parse_timestamp_series(raw: pl.Series, timezone: str = "UTC") -> pl.Series:
    """The same result as :func:`parse_timestamp`, computed as a cascade on a Series.

    Real logs mostly use one or two styles, so each step tries one cheap, exact format on the
    rows still unparsed, and only what no simple format reads goes through the general
    expression. On clean logs this halves the cost of timestamp parsing. Surrounding blanks
    are rare: the text is read as it is, and only the rows no simple format reads are
    stripped and read again.
    """
    read = _read_simple(raw, timezone)
    unread = (read.is_null() & raw.is_not_null()).arg_true()
    if unread.is_empty():
        return read
    stripped = raw.gather(unread).str.strip_chars()
    general = [lambda rest: _general(rest, timezone)]
    return read.scatter(unread, read_in_steps(stripped, _read_simple(stripped, timezone), general))


def _read_simple(text: pl.Series, timezone: str) -> pl.Series:
    """Epoch numbers and the common ISO shapes; null for anything else."""
    import polars as pl

    def in_zone(step: Callable[[pl.Series, str], pl.Series]) -> Callable[[pl.Series], pl.Series]:
        return lambda rest: step(rest, timezone)

    return read_in_steps(
        text,
        _scaled(text.cast(pl.Int64, strict=False), _micros_from_int),
        [in_zone(step) for step in (_epoch_float, read_iso)],
    )


def _scaled(number: pl.Series, to_micros: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    import polars as pl

    micros = number.to_frame("n").select(to_micros(pl.col("n"))).to_series()
    return micros.cast(pl.Datetime("us", "UTC")).alias(number.name)


def _epoch_float(text: pl.Series, _timezone: str) -> pl.Series:
    import polars as pl

    return _scaled(text.cast(pl.Float64, strict=False), _micros_from_float)


def _general(text: pl.Series, timezone: str) -> pl.Series:
    import polars as pl

    return text.to_frame("t").select(parse_timestamp(pl.col("t"), timezone)).to_series()
