"""Named ranges and the previous period, worked out by hand, in UTC and across DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from botistat.core.errors import ConfigError
from botistat.core.timerange import named_range, parse_time, previous_period

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "since", "until"),
    [
        ("today", utc(2026, 11, 25), utc(2026, 11, 26)),
        ("yesterday", utc(2026, 11, 24), utc(2026, 11, 25)),
        ("last-24h", utc(2026, 11, 24, 9, 30), NOW),
        ("last-7d", utc(2026, 11, 18, 9, 30), NOW),
        ("this-week", utc(2026, 11, 23), utc(2026, 11, 30)),
        ("last-week", utc(2026, 11, 16), utc(2026, 11, 23)),
        ("this-month", utc(2026, 11, 1), utc(2026, 12, 1)),
        ("last-month", utc(2026, 10, 1), utc(2026, 11, 1)),
    ],
)
def test_ranges_in_utc(name: str, since: datetime, until: datetime) -> None:
    assert named_range(name, now=NOW) == (since, until)


def test_ranges_in_a_zone_with_dst() -> None:
    # Berlin is UTC+1 in winter, UTC+2 in summer; DST ended on 2026-10-25.
    assert named_range("yesterday", now=NOW, timezone="Europe/Berlin") == (
        utc(2026, 11, 23, 23),
        utc(2026, 11, 24, 23),
    )
    assert named_range("last-month", now=NOW, timezone="Europe/Berlin") == (
        utc(2026, 9, 30, 22),
        utc(2026, 10, 31, 23),
    )
    # The day of the change has 25 hours.
    since, until = named_range("yesterday", now=utc(2026, 10, 26, 12), timezone="Europe/Berlin")
    assert (until - since).total_seconds() == 25 * 3600
    # Just after midnight in Berlin it is already the next day there.
    assert named_range("today", now=utc(2026, 11, 24, 23, 30), timezone="Europe/Berlin")[0] == utc(
        2026, 11, 24, 23
    )


def test_january_wraps_to_december() -> None:
    assert named_range("last-month", now=utc(2026, 1, 15)) == (utc(2025, 12, 1), utc(2026, 1, 1))


def test_previous_period_has_equal_length() -> None:
    assert previous_period(utc(2026, 11, 24), utc(2026, 11, 25)) == (
        utc(2026, 11, 23),
        utc(2026, 11, 24),
    )


def test_unknown_range_and_bad_time() -> None:
    with pytest.raises(ConfigError, match="unknown range"):
        named_range("fortnight", now=NOW)
    with pytest.raises(ConfigError, match="cannot read time"):
        parse_time("soon", option="--since", now=NOW)


def test_since_forms() -> None:
    assert parse_time("24h", option="--since", now=NOW) == utc(2026, 11, 24, 9, 30)
    assert parse_time("2026-11-20", option="--since", now=NOW, timezone="Asia/Tokyo") == utc(
        2026, 11, 19, 15
    )
    assert parse_time("2026-11-20T10:00:00+02:00", option="--since", now=NOW) == utc(
        2026, 11, 20, 8
    )
