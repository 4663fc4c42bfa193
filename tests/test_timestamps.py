"""Timestamp parsing: every style, mixed in one column, against Python's own datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from botistat.ingest.timestamps import parse_timestamp, parse_timestamp_series

instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))


def render(instant: datetime, style: int, offset: timedelta) -> str:
    """The same instant written in one of the supported styles."""
    millis = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    if style == 0:
        return millis.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if style == 1:
        local = instant.astimezone(ZoneInfo("UTC")) + offset
        sign = "+" if offset >= timedelta(0) else "-"
        hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
        return local.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{hours:02d}:{minutes:02d}"
    if style == 2:
        return instant.strftime("%Y-%m-%d %H:%M:%S.%f")  # naive: read as UTC
    if style == 3:
        return str(int(instant.timestamp()))
    if style == 4:
        return str(int(instant.timestamp() * 1000))
    return str(int(instant.timestamp()) * 1_000_000 + instant.microsecond)


def expected(instant: datetime, style: int) -> datetime:
    if style in (0, 4):
        return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    if style == 3:
        return instant.replace(microsecond=0)
    return instant


#: Blanks around a text: most logs have none, some pad a column.
paddings = st.sampled_from([("", "")] * 4 + [(" ", ""), ("", " "), ("\t", "  "), ("\u00a0", "")])


@given(st.lists(st.tuples(instants, st.integers(0, 5), offsets, paddings), min_size=1, max_size=30))
def test_mixed_styles_in_one_column(
    values: list[tuple[datetime, int, timedelta, tuple[str, str]]],
) -> None:
    texts = [
        before + render(instant, style, offset) + after
        for instant, style, offset, (before, after) in values
    ]
    parsed = pl.DataFrame({"t": texts}).select(parse_timestamp(pl.col("t")))["t"]
    assert parsed.to_list() == [expected(instant, style) for instant, style, _, _ in values]
    # The faster cascade used on blocks gives exactly the same.
    assert parse_timestamp_series(pl.Series("t", texts)).to_list() == parsed.to_list()


@pytest.mark.parametrize(
    ("text", "zone", "utc"),
    [
        ("2026-11-19T23:10:05.120+02:00", "UTC", "2026-11-19T21:10:05.120000"),
        ("2026-11-19T23:10:05Z", "UTC", "2026-11-19T23:10:05"),
        ("2026-11-19t23:10:05z", "UTC", None),
        ("2026-11-19 23:10:05+0530", "UTC", "2026-11-19T17:40:05"),
        ("  2026-11-19T23:10:05Z ", "UTC", "2026-11-19T23:10:05"),
        ("2026-11-19T23:10:05", "Europe/Berlin", "2026-11-19T22:10:05"),
        ("2026-07-19T23:10:05", "Europe/Berlin", "2026-07-19T21:10:05"),
        ("2026-11-19T23:10:05.123456789Z", "UTC", "2026-11-19T23:10:05.123456"),
        ("1763593805", "UTC", "2025-11-19T23:10:05"),
        ("1763593805.25", "UTC", "2025-11-19T23:10:05.250000"),
        ("1763593805120", "Europe/Berlin", "2025-11-19T23:10:05.120000"),
        ("1763593805120123", "UTC", "2025-11-19T23:10:05.120123"),
        ("1763593805120123456", "UTC", "2025-11-19T23:10:05.120123"),
        ("yesterday", "UTC", None),
        ("", "UTC", None),
        ("nan", "UTC", None),
        ("2026-13-40T00:00:00Z", "UTC", None),
        # A wall-clock time skipped by the switch to summer time does not exist.
        ("2026-03-29T02:30:00", "Europe/Berlin", None),
    ],
)
def test_examples(text: str, zone: str, utc: str | None) -> None:
    frame = pl.DataFrame({"t": [text]}, schema={"t": pl.String})
    value = frame.select(parse_timestamp(pl.col("t"), zone))["t"][0]
    want = None if utc is None else datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert value == want
    assert parse_timestamp_series(frame["t"], zone)[0] == want


def render_iso(instant: datetime, digits: int, separator: str, zone: str) -> str:
    """An ISO text of the instant's wall clock, with ``digits`` fractional digits (cut, not
    rounded) and the zone suffix as given (``""`` for none)."""
    text = instant.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    if digits:
        text += "." + f"{instant.microsecond:06d}{instant.microsecond % 1000:03d}"[:digits]
    return text + zone


zones = st.sampled_from(
    ["", "Z", "z", "+00:00", "+05:30", "-03:00", "+14:00", "-0800", "+01", "+24:00", "-23:60"]
)


@given(
    st.lists(
        st.tuples(
            instants, st.sampled_from([0, 1, 2, 3, 4, 6, 7, 9]), st.sampled_from("T "), zones
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
)
def test_iso_shapes_read_as_the_general_parser_reads_them(
    values: list[tuple[datetime, int, str, str]], zone: str
) -> None:
    # The common shapes take a fast path; every other shape falls through to the general
    # expression. Either way each text must come out as the general expression reads it.
    # One in four padded with blanks.
    texts = [(" " * (i % 4 == 3)) + render_iso(*value) for i, value in enumerate(values)]
    general = pl.DataFrame({"t": texts}).select(parse_timestamp(pl.col("t"), zone))["t"]
    assert parse_timestamp_series(pl.Series("t", texts), zone).to_list() == general.to_list()


@pytest.mark.parametrize(
    ("text", "zone", "utc"),
    [
        ("2026-11-19 23:10:05.120Z", "Europe/Berlin", "2026-11-19T23:10:05.120000"),
        ("2026-11-19T23:10:05.123456-03:30", "UTC", "2026-11-20T02:40:05.123456"),
        ("2026-11-19 23:10:05.123456789", "America/New_York", "2026-11-20T04:10:05.123456"),
        ("2026-11-19T23:10:05.1Z", "UTC", "2026-11-19T23:10:05.100000"),
        ("2026-11-19T23:10:05+14:00", "UTC", "2026-11-19T09:10:05"),
        ("2026-11-19T24:10:05Z", "UTC", None),
        ("2026-11-19T23:10:05.12xZ", "UTC", None),
        ("2026-11-19T23:10:05+ab:cd", "UTC", None),
    ],
)
def test_iso_examples(text: str, zone: str, utc: str | None) -> None:
    want = None if utc is None else datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert parse_timestamp_series(pl.Series("t", [text]), zone)[0] == want


def test_many_offsets_in_one_block_read_as_the_general_parser_reads_them() -> None:
    # One offset is read as part of the format, a few one by one, many by an expression.
    offsets = [f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in (0, 1, 5, 9) for m in (0, 30)]
    texts = [f"2026-03-29T01:{i % 60:02d}:05.250{offsets[i % len(offsets)]}" for i in range(200)]
    bad = ["+ab:cd", "+01-00", "+24:00", "-23:60"]
    texts += [f"2026-03-29T01:00:05.250{zone}" for zone in bad] + [None]  # type: ignore[list-item]
    for count in (1, 3, len(texts)):
        sample = pl.Series("t", texts[:count] + texts[-5:])
        general = sample.to_frame().select(parse_timestamp(pl.col("t")))["t"]
        assert parse_timestamp_series(sample).to_list() == general.to_list()
        assert parse_timestamp_series(sample)[-5:].to_list() == [None] * 5


def test_nine_digit_fractions_and_offsets_of_the_same_length_in_one_block() -> None:
    # ".123456789" and ".123+05:30" are both 29 characters long: the sign tells them apart.
    texts = ["2026-11-19T23:10:05.123456789", "2026-11-19T23:10:05.123+05:30"] * 3
    sample = pl.Series("t", texts)
    general = sample.to_frame().select(parse_timestamp(pl.col("t"), "Europe/Berlin"))["t"]
    assert parse_timestamp_series(sample, "Europe/Berlin").to_list() == general.to_list()
    assert general.null_count() == 0
