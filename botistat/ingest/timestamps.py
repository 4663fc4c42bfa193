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
from typing import TYPE_CHECKING, Final, TypeVar

from botistat.ingest.cascade import read_in_steps

if TYPE_CHECKING:
    import polars as pl

#: A string Series or expression: both have the same ``str.to_datetime``.
S = TypeVar("S", "pl.Series", "pl.Expr")

ISO_AWARE: Final = "%Y-%m-%dT%H:%M:%S%.f%z"
ISO_NAIVE: Final = "%Y-%m-%dT%H:%M:%S%.f"
#: Formats Polars parses natively, by the length of an ISO text's date and time without its
#: zone: ten times as fast as the general formats (``%.f`` and ``%z`` go through chrono).
ISO_FAST_FORMATS: Final = {
    19: "%Y-%m-%dT%H:%M:%S",
    23: "%Y-%m-%dT%H:%M:%S.%3f",
    26: "%Y-%m-%dT%H:%M:%S.%6f",
    29: "%Y-%m-%dT%H:%M:%S.%9f",
}
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
    aware = _strptime(iso, ISO_AWARE, "UTC")
    naive = (
        _strptime(iso, ISO_NAIVE)
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.coalesce(aware, naive)


def parse_timestamp_series(raw: pl.Series, timezone: str = "UTC") -> pl.Series:
    """The same result as :func:`parse_timestamp`, computed as a cascade on a Series.

    Real logs mostly use one or two styles, so each step tries one cheap, exact format on the
    rows still unparsed, and only what no simple format reads goes through the general
    expression. On clean logs this halves the cost of timestamp parsing.
    """
    import polars as pl

    def in_zone(step: Callable[[pl.Series, str], pl.Series]) -> Callable[[pl.Series], pl.Series]:
        return lambda rest: step(rest, timezone)

    text = raw.str.strip_chars()
    return read_in_steps(
        text,
        _scaled(text.cast(pl.Int64, strict=False), _micros_from_int),
        [in_zone(step) for step in (_epoch_float, _iso, _general)],
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


def _iso(text: pl.Series, timezone: str) -> pl.Series:
    """ISO 8601 text in the common shapes, null in any other (left to :func:`_general`).

    The common shapes: a date, ``T`` or a space, a time with 0, 3, 6 or 9 fractional digits,
    then ``Z``, ``+HH:MM`` / ``-HH:MM`` or nothing (the configured time zone). The zone is
    cut off and applied by arithmetic, so that the rest parses on Polars' fast path.
    """
    import polars as pl

    t = pl.col("t")
    zone_length = (
        pl.when(t.str.ends_with("Z") | t.str.ends_with("z"))
        .then(1)
        .when(t.str.slice(-6, 1).is_in(["+", "-"]) & (t.str.slice(-3, 1) == ":"))
        .then(6)
        .otherwise(0)
    )
    shape = (
        text.to_frame("t")
        .with_columns(zone_length.cast(pl.UInt32).alias("zone"))
        .select(
            # A space may stand for the T: the fast formats have a T.
            t.str.head(t.str.len_bytes() - pl.col("zone"))
            .str.replace(" ", "T", literal=True, n=1)
            .alias("clock"),
            pl.col("zone"),
        )
    )
    clock, zone = shape.get_column("clock"), shape.get_column("zone")
    naive = pl.Series(text.name, dtype=pl.Datetime("us")).extend_constant(None, len(text))
    lengths = clock.str.len_bytes()
    for length, fmt in ISO_FAST_FORMATS.items():
        rows = (lengths == length).arg_true()
        if len(rows) == len(clock):  # one shape throughout, as in most logs: no copies
            naive = _strptime(clock, fmt)
        elif not rows.is_empty():
            naive = naive.scatter(rows, _strptime(clock.gather(rows), fmt))
    result = naive.dt.replace_time_zone("UTC")
    offsets = (zone == 6).arg_true()
    if not offsets.is_empty():
        z = pl.col("zone")
        minutes = z.str.slice(1, 2).cast(pl.Int64, strict=False) * 60 + z.str.slice(4, 2).cast(
            pl.Int64, strict=False
        )
        sign = pl.when(z.str.starts_with("-")).then(-1).otherwise(1)
        shifted = (
            pl.DataFrame({"zone": text.gather(offsets).str.slice(-6), "at": result.gather(offsets)})
            .select(pl.col("at") - pl.duration(minutes=minutes * sign))
            .to_series()
        )
        result = result.scatter(offsets, shifted)
    unzoned = (zone == 0).arg_true()
    if timezone != "UTC" and not unzoned.is_empty():
        result = result.scatter(unzoned, _localized(naive.gather(unzoned), timezone))
    return result


def _strptime(text: S, fmt: str, time_zone: str | None = None) -> S:
    """Datetimes in this format, null where the text is not in it.

    Without Polars' cache of converted values: log timestamps are nearly all distinct, so
    the cache only costs (5 to 15% of the parse).
    """
    return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone=time_zone, cache=False)


def _localized(naive: pl.Series, timezone: str) -> pl.Series:
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
