"""Parse ``--since`` / ``--until`` values: ISO times, dates and relative spans."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from botistat.core.errors import ConfigError

SPAN_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SPAN: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


def parse_span(text: str) -> timedelta | None:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w`` as a timedelta; None if not a span."""
    match = _SPAN.match(text.strip().lower())
    if not match:
        return None
    return timedelta(**{SPAN_UNITS[match.group(2)]: float(match.group(1))})


def parse_time(text: str, *, option: str, now: datetime, timezone: str = "UTC") -> datetime:
    """A point in time in UTC.

    Accepts a relative span back from ``now`` (``24h``, ``7d``), an ISO date (midnight in
    ``timezone``), or an ISO date-time (naive ones are read in ``timezone``).
    """
    span = parse_span(text)
    if span is not None:
        return now.astimezone(UTC) - span
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"cannot read time {text!r}",
            option,
            "use an ISO time (2026-11-19T08:00:00Z), a date (2026-11-19) or a span (24h, 7d)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(UTC)


RANGES: Final = (
    "today",
    "yesterday",
    "last-24h",
    "last-7d",
    "this-week",
    "last-week",
    "this-month",
    "last-month",
)


def named_range(name: str, *, now: datetime, timezone: str = "UTC") -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC for a named range, with days, weeks (from Monday) and months
    in ``timezone``. Ranges of the current day, week or month end when that period ends."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)

    def day(offset: int) -> datetime:
        # Calendar arithmetic on the local date, so a DST change keeps days at midnight.
        moved = midnight.date() + timedelta(days=offset)
        return datetime(moved.year, moved.month, moved.day, tzinfo=zone)

    def month(offset: int) -> datetime:
        index = local.year * 12 + local.month - 1 + offset
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)

    monday = -local.weekday()
    ranges = {
        "today": (day(0), day(1)),
        "yesterday": (day(-1), day(0)),
        "last-24h": (now - timedelta(hours=24), now),
        "last-7d": (now - timedelta(days=7), now),
        "this-week": (day(monday), day(monday + 7)),
        "last-week": (day(monday - 7), day(monday)),
        "this-month": (month(0), month(1)),
        "last-month": (month(-1), month(0)),
    }
    if name not in ranges:
        raise ConfigError(
            f"unknown range {name!r}", "--range", f"choose one of: {', '.join(RANGES)}"
        )
    since, until = ranges[name]
    return since.astimezone(UTC), until.astimezone(UTC)


def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of equal length just before ``[since, until)``."""
    return since - (until - since), since
