"""Parse ``--since`` / ``--until`` values: ISO times, dates and relative spans."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from botistat.errors import ConfigError

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
