"""The ISO 8601 timestamps of the common shapes, read on Polars' fast path.

Polars reads formats such as ``%Y-%m-%dT%H:%M:%S.%3f`` natively, ten times as fast as the
general ``%.f`` and ``%z`` (which go through chrono), but only text of exactly that shape;
a text of another shape costs more to fail than to read. So the rows are grouped by shape
first, and each group read with its one exact format; what no common shape reads is left
null, for the general parser in :mod:`botistat.ingest.timestamps`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    import polars as pl

#: A string Series or expression: both have the same ``str.to_datetime``.
S = TypeVar("S", "pl.Series", "pl.Expr")

#: Formats Polars parses natively, by the length of an ISO text's date and time without its
#: zone: ten times as fast as the general formats (``%.f`` and ``%z`` go through chrono).
ISO_FAST_FORMATS: Final = {
    19: "%Y-%m-%dT%H:%M:%S",
    23: "%Y-%m-%dT%H:%M:%S.%3f",
    26: "%Y-%m-%dT%H:%M:%S.%6f",
    29: "%Y-%m-%dT%H:%M:%S.%9f",
}


def read_iso(text: pl.Series, timezone: str) -> pl.Series:
    """ISO 8601 text in the common shapes, in UTC; null in any other.

    The common shapes: a date, ``T`` or a space, a time with 0, 3, 6 or 9 fractional digits,
    then ``Z``, ``+HH:MM`` / ``-HH:MM`` or nothing (read in ``timezone``). Rows are grouped by
    shape, told by their length, the character after the date and a final ``Z`` (three cheap
    passes), and each group is read with one exact format; see :func:`_with_offset` for the
    offsets.
    """
    import polars as pl

    t = pl.col("t")
    space = pl.when(t.str.slice(10, 1) == " ").then(_SPACE_SHAPE).otherwise(0)
    zulu = pl.when(t.str.ends_with("Z")).then(_ZULU_SHAPE).otherwise(0)
    shapes = text.to_frame("t").select(t.str.len_bytes().cast(pl.UInt64) + space + zulu).to_series()
    result = pl.Series(text.name, dtype=pl.Datetime("us", "UTC")).extend_constant(None, len(text))
    for shape in shapes.unique().to_list():
        rows = (shapes == shape).arg_true()
        whole = len(rows) == len(text)  # one shape throughout, as in most logs: no copies
        group = text if whole else text.gather(rows)
        read = _iso_shape(group, shape, timezone)
        if read is not None:
            result = read.alias(text.name) if whole else result.scatter(rows, read)
    return result


#: Shape flags above any length a timestamp text has.
_SPACE_SHAPE: Final = 1 << 40
_ZULU_SHAPE: Final = 1 << 41
#: The length of an offset such as ``+05:30``.
_OFFSET: Final = 6


def _iso_shape(group: pl.Series, shape: int, timezone: str) -> pl.Series | None:
    """The rows of one :func:`read_iso` shape, in UTC; None if no common shape has it."""
    length = shape % _SPACE_SHAPE
    separator = " " if shape & _SPACE_SHAPE else "T"
    if shape & _ZULU_SHAPE:
        if length - 1 not in ISO_FAST_FORMATS:
            return None
        return strptime(group, _fast_format(length - 1, separator) + "Z", "UTC")
    naive = length in ISO_FAST_FORMATS
    offset = length - _OFFSET in ISO_FAST_FORMATS
    if naive and offset:  # .%9f, or .%3f and an offset: the sign tells
        sign = group.str.slice(-_OFFSET, 1)
        signed = (sign == "+") | (sign == "-")
        if signed.all():
            return _with_offset(group, length - _OFFSET, separator)
        if not signed.any():
            return _naive(group, length, separator, timezone)
        # Each read on its own rows: a text of the other shape costs more to fail than to read.
        with_offset = _with_offset(group.filter(signed), length - _OFFSET, separator)
        naive_rows = (~signed).arg_true()
        read = _naive(group.gather(naive_rows), length, separator, timezone)
        return (
            with_offset.clear(len(group))
            .scatter(signed.arg_true(), with_offset)
            .scatter(naive_rows, read)
        )
    if naive:
        return _naive(group, length, separator, timezone)
    if offset:
        return _with_offset(group, length - _OFFSET, separator)
    return None


def _naive(group: pl.Series, clock: int, separator: str, timezone: str) -> pl.Series:
    """Text of a fast format's ``clock`` length, read in ``timezone``, in UTC."""
    local = strptime(group, _fast_format(clock, separator))
    return local.dt.replace_time_zone("UTC") if timezone == "UTC" else localized(local, timezone)


def _with_offset(group: pl.Series, clock: int, separator: str) -> pl.Series:
    """Text of a fast format's ``clock`` length then ``+HH:MM`` or ``-HH:MM``, in UTC.

    A log writes one offset, or a few: the first row's is tried on every row as part of the
    format; the rows it does not read are read offset by offset.
    """
    from datetime import timedelta

    first = group.drop_nulls().head(1).to_list()
    zone = first[0][clock:] if first else None
    minutes = _offset_minutes(zone)
    if zone is None or minutes is None:
        return _by_offset(group, clock, separator)
    at = strptime(group, _fast_format(clock, separator) + zone, "UTC")
    shifted = at - timedelta(minutes=minutes)
    missed = at.is_null().arg_true()
    if missed.is_empty():
        return shifted
    return shifted.scatter(missed, _by_offset(group.gather(missed), clock, separator))


def _by_offset(group: pl.Series, clock: int, separator: str) -> pl.Series:
    """:func:`_with_offset`, each distinct offset read once and its rows shifted by it."""
    import polars as pl

    at = strptime(group.str.head(clock), _fast_format(clock, separator), "UTC")
    zones = group.str.slice(clock)
    distinct = zones.unique()
    if len(distinct) > MAX_OFFSETS:
        return _shifted_by_expression(at, zones)
    zone = pl.col("zone")
    shifted = pl.lit(None, at.dtype)
    for text in distinct.to_list():
        minutes = _offset_minutes(text)
        if minutes is not None:
            moment = pl.col("at") - pl.duration(minutes=minutes)
            shifted = pl.when(zone == text).then(moment).otherwise(shifted)
    return pl.DataFrame({"zone": zones, "at": at}).select(shifted.alias(group.name)).to_series()


#: Distinct offsets in one block read one by one; beyond this, row by row.
MAX_OFFSETS: Final = 8
_OFFSET_TEXT: Final = re.compile(r"([+-])(\d\d):(\d\d)")
MAX_OFFSET_HOURS: Final = 23
MAX_OFFSET_MINUTES: Final = 59


def _offset_minutes(text: str | None) -> int | None:
    """``+05:30`` as 330 minutes; None if not an offset of that form and range (the general
    parser's: less than a day)."""
    match = _OFFSET_TEXT.fullmatch(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(hours) > MAX_OFFSET_HOURS or int(minutes) > MAX_OFFSET_MINUTES:
        return None
    return (-1 if sign == "-" else 1) * (int(hours) * 60 + int(minutes))


def _shifted_by_expression(at: pl.Series, zones: pl.Series) -> pl.Series:
    """:func:`_by_offset` for many offsets: each row's read and applied by arithmetic."""
    import polars as pl

    z = pl.col("zone")
    hours = z.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = z.str.slice(4, 2).cast(pl.Int64, strict=False)
    sign = pl.when(z.str.starts_with("-")).then(-1).when(z.str.starts_with("+")).then(1)
    valid = (
        (z.str.len_bytes() == _OFFSET)
        & (z.str.slice(3, 1) == ":")
        & (hours <= MAX_OFFSET_HOURS)
        & (minutes <= MAX_OFFSET_MINUTES)
    )
    shift = pl.duration(minutes=(hours * 60 + minutes) * sign)
    return (
        pl.DataFrame({"zone": zones, "at": at})
        .select(pl.when(valid).then(pl.col("at") - shift))
        .to_series()
        .alias(at.name)
    )


def _fast_format(clock: int, separator: str) -> str:
    return ISO_FAST_FORMATS[clock].replace("T", separator)


def strptime(text: S, fmt: str, time_zone: str | None = None) -> S:
    """Datetimes in this format, null where the text is not in it.

    Without Polars' cache of converted values: log timestamps are nearly all distinct, so
    the cache only costs (5 to 15% of the parse).
    """
    return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone=time_zone, cache=False)


def localized(naive: S, timezone: str) -> S:
    """Wall-clock datetimes read in ``timezone``, in UTC (a time skipped by a change to
    summer time is null; an ambiguous one, the earlier)."""
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
