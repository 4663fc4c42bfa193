"""Independent plain-Python reference implementation of the botistat metrics contract.

This module is a test oracle. It deliberately does not import anything from ``botistat``;
it re-implements the documented contract using only the standard library so that the
Polars-based implementation can be checked against it.

Public API:

* :func:`load_records` reads JSONL/NDJSON/JSON-lines and CSV/TSV files (optionally gzipped)
  into canonical records and counts malformed lines.
* :func:`compute_metrics` computes the metrics dictionary for a list of canonical records.
* :func:`compute_grouped` computes one metrics dictionary per group key.
* :func:`percentile` is numpy's default (linear) percentile.

Resolved ambiguities (documented here so that test failures can be judged):

* Fractional epoch timestamps are rounded to the nearest microsecond with round-half-even;
  decimal token counts ("12.5") are rounded with Python's ``round`` (also half-even), and
  "1,200" (thousands separators) reads as 1200. A count that is negative, above 10^9 or not a
  number after that is missing (the record still counts).
* A JSON ``null`` met in the middle of a dotted path means "missing", not "malformed".
* Naive ISO timestamps in a non-UTC zone use ``fold=0`` for ambiguous/non-existent local times.
* ``since``/``until`` that are naive datetimes are taken as UTC; ``since`` is inclusive and
  ``until`` exclusive. Response times are paired only among records inside the range.
* ``--by week`` and ``--by month`` label the local (``timezone``) date of a record's timestamp:
  ``2026-W47`` is the ISO 8601 year and week (weeks from Monday; the year is the one the
  week's Thursday falls in), ``2026-11`` the month.
* ``top`` ranks conversations, users and models by tokens (descending), then name (ascending,
  by code point), keeps those with tokens, and leaves out messages without the field. A
  message's cost is its tokens at its model's (input, output) rates per 1M tokens when it has
  a prompt or completion count and its model a price; otherwise, with tokens, it is unpriced.
* CSV rows that are completely empty (``[]`` from the csv module) are ignored, including any
  before the header; the first non-empty row is the header.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO, TypedDict, TypeVar
from zoneinfo import ZoneInfo

__all__ = [
    "CANONICAL_FIELDS",
    "Record",
    "compute_grouped",
    "compute_metrics",
    "compute_top",
    "load_records",
    "percentile",
    "time_bucket",
]

CANONICAL_FIELDS: tuple[str, ...] = (
    "timestamp",
    "conversation_id",
    "role",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "ip",
    "country",
    "bot_id",
    "channel",
    "model",
    "user_id",
)

_TEXT_FIELDS: tuple[str, ...] = ("conversation_id", "ip", "bot_id", "channel", "model", "user_id")
_TOKEN_FIELDS: tuple[str, ...] = ("prompt_tokens", "completion_tokens", "total_tokens")

_USER_ROLES = frozenset({"user", "human", "customer"})
_BOT_ROLES = frozenset({"bot", "assistant", "ai"})
_FAILED_STATUSES = frozenset({"failed", "error", "undelivered"})
_FALSE_ERROR_VALUES = frozenset({"false", "0", "no", "none", "null"})

#: The largest plausible token count of one record; larger, negative or unreadable: missing.
TOKEN_CAP = 10**9
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_INT_RE = re.compile(r"[+-]?\d+")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d+))?"
    r"(Z|z|[+-]\d{2}:\d{2}|[+-]\d{4})?"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (exclusive upper bound of |value|, factor converting the unit to microseconds)
_EPOCH_UNITS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("1e11"), Decimal(1_000_000)),  # seconds
    (Decimal("1e14"), Decimal(1_000)),  # milliseconds
    (Decimal("1e17"), Decimal(1)),  # microseconds
)
_NANOS_TO_MICROS = Decimal("0.001")

_JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


class Record(TypedDict):
    """A canonical record as produced by :func:`load_records`."""

    timestamp: datetime  # ``None`` only for an ignored record (role "other")
    conversation_id: str | None
    role: str
    failed: bool
    error: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    country: str | None
    ip: str | None
    bot_id: str | None
    channel: str | None
    model: str | None
    user_id: str | None
    _order: int


class _MalformedError(Exception):
    """Raised internally when a line/row must be skipped as malformed."""


_K = TypeVar("_K", bound=Hashable)


# --------------------------------------------------------------------------------------
# Value parsing
# --------------------------------------------------------------------------------------


def _json_value_to_text(value: Any) -> str | None:
    """Turn a raw JSON value into text; ``None`` (JSON null) stays missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _clean_text(raw: str | None) -> str | None:
    """Strip surrounding whitespace; an empty result is missing."""
    if raw is None:
        return None
    text = raw.strip()
    return text or None


def _parse_role(raw: str | None) -> str | None:
    """Normalise a role to ``user``/``bot``/``other``; ``None`` when missing."""
    text = _clean_text(raw)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _USER_ROLES:
        return "user"
    if lowered in _BOT_ROLES:
        return "bot"
    return "other"


def _parse_failed(raw: str | None) -> bool:
    """Return whether the delivery status means the message failed."""
    text = _clean_text(raw)
    return text is not None and text.lower() in _FAILED_STATUSES


def _parse_error_flag(error: str | None, error_code: str | None) -> bool:
    """Derive the error flag from ``error`` (preferred) or ``error_code``."""
    text = _clean_text(error)
    if text is not None:
        return text.lower() not in _FALSE_ERROR_VALUES
    return _clean_text(error_code) is not None


def _parse_tokens(raw: str | None) -> int | None:
    """Parse a token count: integer text, decimal text (rounded), or digits grouped by
    thousands with commas; missing unless it is a plausible count, 0 to 10^9."""
    text = _clean_text(raw)
    if text is None:
        return None
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
    value: int | None = None
    if _INT_RE.fullmatch(text):
        value = int(text)
    elif _NUMBER_RE.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            value = round(number)
    if value is None or not 0 <= value <= TOKEN_CAP:
        return None
    return value


def _parse_epoch(text: str) -> datetime | None:
    """Convert numeric epoch text to a UTC datetime, choosing the unit by magnitude."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    magnitude = abs(value)
    micros_exact: Decimal | None = None
    for bound, factor in _EPOCH_UNITS:
        if magnitude < bound:
            micros_exact = value * factor
            break
    if micros_exact is None:
        micros_exact = value * _NANOS_TO_MICROS
    micros = int(micros_exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None


def _parse_iso(text: str, local_zone: tzinfo) -> datetime | None:
    """Parse the supported ISO 8601 subset and convert to UTC."""
    match = _ISO_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    tz: tzinfo
    if zone is None:
        tz = local_zone
    elif zone in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        off_hours, off_minutes = int(digits[:2]), int(digits[2:])
        if off_minutes >= 60:
            return None
        try:
            tz = dt_timezone(sign * timedelta(hours=off_hours, minutes=off_minutes))
        except ValueError:
            return None
    try:
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micros,
            tzinfo=tz,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _parse_timestamp(raw: str | None, local_zone: tzinfo) -> datetime | None:
    """Parse a timestamp (epoch number or ISO 8601); ``None`` when missing or unreadable."""
    text = _clean_text(raw)
    if text is None:
        return None
    if _NUMBER_RE.fullmatch(text):
        return _parse_epoch(text)
    return _parse_iso(text, local_zone)


def _build_record(values: dict[str, str | None], local_zone: tzinfo, order: int) -> Record | None:
    """Build a canonical record from raw texts; ``None`` if role or timestamp is unusable.

    A record whose role is neither user nor bot is ignored whatever its timestamp: it is
    kept (for the count of ignored records) even when the timestamp is missing.
    """
    role = _parse_role(values["role"])
    if role is None:
        return None
    timestamp = _parse_timestamp(values["timestamp"], local_zone)
    if timestamp is None and role != "other":
        return None
    country = _clean_text(values["country"])
    text = {name: _clean_text(values[name]) for name in _TEXT_FIELDS}
    tokens = {name: _parse_tokens(values[name]) for name in _TOKEN_FIELDS}
    return Record(
        timestamp=timestamp,  # type: ignore[typeddict-item]
        conversation_id=text["conversation_id"],
        role=role,
        failed=_parse_failed(values["status"]),
        error=_parse_error_flag(values["error"], values["error_code"]),
        prompt_tokens=tokens["prompt_tokens"],
        completion_tokens=tokens["completion_tokens"],
        total_tokens=tokens["total_tokens"],
        country=country.upper() if country is not None else None,
        ip=text["ip"],
        bot_id=text["bot_id"],
        channel=text["channel"],
        model=text["model"],
        user_id=text["user_id"],
        _order=order,
    )


# --------------------------------------------------------------------------------------
# File reading
# --------------------------------------------------------------------------------------


def _open_text(path: Path, newline: str) -> TextIO:
    """Open a (possibly gzipped) file as UTF-8 text, dropping a leading BOM."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline=newline)
    return path.open("r", encoding="utf-8-sig", newline=newline)


def _file_format(path: Path) -> str:
    """Return ``json``, ``csv`` or ``tsv`` from the file name (ignoring a ``.gz`` suffix)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in _JSON_SUFFIXES:
        return "json"
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    raise ValueError(f"unsupported file type: {path}")


def _reject_constant(name: str) -> Any:
    """Reject the non-standard JSON constants NaN/Infinity accepted by Python's json."""
    raise ValueError(f"invalid JSON constant {name}")


def _lookup_json(obj: dict[str, Any], source: str) -> str | None:
    """Resolve a (possibly dotted) source name inside a JSON object and return its text."""
    current: Any = obj
    for part in source.split("."):
        if current is None:
            return None
        if not isinstance(current, dict):
            raise _MalformedError(source)
        current = current.get(part)
    return _json_value_to_text(current)


def _iter_json_values(
    path: Path, sources: dict[str, str]
) -> Iterator[dict[str, str | None] | None]:
    """Yield raw field texts per JSON line, or ``None`` for a malformed line."""
    with _open_text(path, newline="\n") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_reject_constant)
            except ValueError:
                yield None
                continue
            if not isinstance(obj, dict):
                yield None
                continue
            try:
                yield {name: _lookup_json(obj, src) for name, src in sources.items()}
            except _MalformedError:
                yield None


def _iter_csv_values(
    path: Path, sources: dict[str, str], delimiter: str
) -> Iterator[dict[str, str | None] | None]:
    """Yield raw field texts per CSV/TSV record, or ``None`` for a malformed record."""
    with _open_text(path, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header: list[str] | None = None
        index: dict[str, int] = {}
        for row in reader:
            if not row:
                continue
            if header is None:
                header = [name.strip() for name in row]
                for position, name in enumerate(header):
                    index.setdefault(name, position)
                continue
            if len(row) != len(header):
                yield None
                continue
            values: dict[str, str | None] = {}
            for name, src in sources.items():
                column = index.get(src)
                values[name] = row[column] if column is not None else None
            yield values


def load_records(
    paths: list[Path], fields: dict[str, str] | None = None, timezone: str = "UTC"
) -> tuple[list[Record], int]:
    """Load canonical records from log files.

    Args:
        paths: Files to read, in order. ``.jsonl``/``.ndjson``/``.json`` (one object per line)
            and ``.csv``/``.tsv``, each optionally with a ``.gz`` suffix.
        fields: Mapping canonical field name -> source field name (dotted = nested JSON path).
        timezone: IANA zone used for ISO timestamps without an explicit offset.

    Returns:
        The canonical records (in input order, with ``_order`` set) and the number of
        skipped malformed lines/records.
    """
    mapping = dict(fields or {})
    unknown = set(mapping) - set(CANONICAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown canonical field(s): {sorted(unknown)}")
    sources = {name: mapping.get(name, name) for name in CANONICAL_FIELDS}
    local_zone: tzinfo = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)

    records: list[Record] = []
    skipped = 0
    for path in paths:
        kind = _file_format(Path(path))
        rows: Iterable[dict[str, str | None] | None]
        if kind == "json":
            rows = _iter_json_values(Path(path), sources)
        else:
            rows = _iter_csv_values(Path(path), sources, "," if kind == "csv" else "\t")
        for values in rows:
            record = None if values is None else _build_record(values, local_zone, len(records))
            if record is None:
                skipped += 1
            else:
                records.append(record)
    return records, skipped


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def _lerp(low: float, high: float, t: float) -> float:
    """Linear interpolation exactly as numpy's ``_lerp`` computes it."""
    diff = high - low
    if t >= 0.5:
        return high - diff * (1.0 - t)
    return low + diff * t


def percentile(values: list[float], q: float) -> float | None:
    """Return the ``q`` quantile (``q`` in [0, 1]) with numpy's default linear method.

    Returns ``None`` for an empty list.
    """
    if not values:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low_index = math.floor(position)
    high_index = min(low_index + 1, len(ordered) - 1)
    fraction = position - low_index
    low, high = float(ordered[low_index]), float(ordered[high_index])
    if low == high:
        return low
    return _lerp(low, high, fraction)


def _as_utc(moment: datetime | None) -> datetime | None:
    """Treat naive datetimes as UTC; convert aware ones to UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _in_range(
    records: list[Record], since: datetime | None, until: datetime | None
) -> list[Record]:
    """Keep the messages with ``since <= timestamp < until`` (either bound optional);
    ignored records (role "other") are never in a range."""
    start, end = _as_utc(since), _as_utc(until)
    return _attributed(
        [
            r
            for r in records
            if r["role"] != "other"
            and (start is None or r["timestamp"] >= start)
            and (end is None or r["timestamp"] < end)
        ]
    )


def _attributed(messages: list[Record]) -> list[Record]:
    """A message with no location of its own (no country field, no IP) takes the country of
    the latest user message of its conversation, at or before it, that has one (ties in
    input order); without one it stays unknown."""
    latest: dict[str, tuple[str | None]] = {}
    attributed: dict[int, str | None] = {}
    for record in sorted(messages, key=lambda r: (r["timestamp"], r["_order"])):
        conversation = record["conversation_id"]
        located = record["country"] is not None or record["ip"] is not None
        if conversation is None:
            continue
        if located and record["role"] == "user":
            latest[conversation] = (record["country"],)
        elif not located and conversation in latest:
            attributed[record["_order"]] = latest[conversation][0]
    return [
        {**r, "country": attributed[r["_order"]]} if r["_order"] in attributed else r
        for r in messages
    ]


def _response_pairs(records: list[Record]) -> list[tuple[Record, Record, float]]:
    """Return ``(user record, bot record, response milliseconds)`` for every reply."""
    conversations: dict[str, list[Record]] = {}
    for record in records:
        conversation = record["conversation_id"]
        if conversation is None or record["role"] not in ("user", "bot"):
            continue
        if record["role"] == "bot" and record["failed"]:
            continue
        conversations.setdefault(conversation, []).append(record)
    pairs: list[tuple[Record, Record, float]] = []
    one_microsecond = timedelta(microseconds=1)
    for messages in conversations.values():
        messages.sort(key=lambda r: (r["timestamp"], r["_order"]))
        for previous, current in itertools.pairwise(messages):
            if current["role"] == "bot" and previous["role"] == "user":
                micros = (current["timestamp"] - previous["timestamp"]) // one_microsecond
                pairs.append((previous, current, micros / 1000))
    return pairs


def _record_total(record: Record) -> int:
    """Return total_tokens if present, else prompt + completion (missing = 0)."""
    if record["total_tokens"] is not None:
        return record["total_tokens"]
    return (record["prompt_tokens"] or 0) + (record["completion_tokens"] or 0)


def _response_stats(response_ms: list[float]) -> dict[str, Any]:
    """Summarise response times (all ``None`` except ``count`` when empty)."""
    count = len(response_ms)
    if count == 0:
        return {
            "count": 0,
            "avg": None,
            "p50": None,
            "p90": None,
            "p95": None,
            "p99": None,
            "max": None,
        }
    return {
        "count": count,
        "avg": math.fsum(response_ms) / count,
        "p50": percentile(response_ms, 0.50),
        "p90": percentile(response_ms, 0.90),
        "p95": percentile(response_ms, 0.95),
        "p99": percentile(response_ms, 0.99),
        "max": max(response_ms),
    }


def _country_stats(messages: list[Record], top: int) -> dict[str, Any]:
    """Country breakdown over messages: top rows, the rest, and unknown."""
    counts: dict[str, int] = {}
    conversations: dict[str, set[str]] = {}
    unknown = 0
    for record in messages:
        country = record["country"]
        if country is None:
            unknown += 1
            continue
        counts[country] = counts.get(country, 0) + 1
        bucket = conversations.setdefault(country, set())
        if record["conversation_id"] is not None:
            bucket.add(record["conversation_id"])
    known_total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    limit = max(top, 0)
    head, rest = ranked[:limit], ranked[limit:]
    return {
        "top": [
            {
                "country": country,
                "messages": count,
                "conversations": len(conversations[country]),
                "share": count / known_total,
            }
            for country, count in head
        ],
        "other": {"countries": len(rest), "messages": sum(count for _, count in rest)},
        "unknown": {"messages": unknown},
    }


def _metrics(
    messages: list[Record], response_ms: list[float], top: int, ignored: int = 0
) -> dict[str, Any]:
    """Compute the metrics dict for in-range messages and their precomputed response times;
    ``ignored`` is the number of records that are no messages (whatever the range)."""
    bots = [r for r in messages if r["role"] == "bot"]
    timestamps = [r["timestamp"] for r in messages]
    return {
        "input": {
            "records": len(messages),
            "ignored": ignored,
            "first_timestamp": min(timestamps) if timestamps else None,
            "last_timestamp": max(timestamps) if timestamps else None,
        },
        "messages": {
            "total": len(messages),
            "user": sum(1 for r in messages if r["role"] == "user"),
            "bot_responses": sum(1 for r in bots if not r["failed"]),
            "failed": sum(1 for r in messages if r["failed"]),
        },
        "response_ms": _response_stats(response_ms),
        "tokens": {
            "prompt": sum(r["prompt_tokens"] or 0 for r in messages),
            "completion": sum(r["completion_tokens"] or 0 for r in messages),
            "total": sum(_record_total(r) for r in messages),
            "error": sum(_record_total(r) for r in messages if r["error"]),
        },
        "errors": {
            "transactions": sum(1 for r in bots if r["error"]),
            "rate": (sum(1 for r in bots if r["error"]) / len(bots)) if bots else None,
        },
        "countries": _country_stats(messages, top),
    }


def compute_metrics(
    records: list[Record],
    top: int = 10,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Compute the metrics dictionary for ``records`` within ``[since, until)``.

    Args:
        records: Canonical records from :func:`load_records`.
        top: Number of countries listed individually.
        since: Inclusive lower bound on the timestamp (naive = UTC).
        until: Exclusive upper bound on the timestamp (naive = UTC).

    Returns:
        A dict with keys ``input``, ``messages``, ``response_ms``, ``tokens``, ``errors`` and
        ``countries``.
    """
    selected = _in_range(records, since, until)
    response_ms = [ms for _, _, ms in _response_pairs(selected)]
    ignored = sum(1 for r in records if r["role"] == "other")
    return _metrics(selected, response_ms, top, ignored)


def compute_grouped(
    records: list[Record],
    key_fn: Callable[[Record], _K],
    top: int = 10,
    since: datetime | None = None,
    until: datetime | None = None,
    replies_by_user: bool = False,
) -> dict[_K, dict[str, Any]]:
    """Compute one metrics dict per group, keyed by ``key_fn(record)``.

    Records are grouped by their own key. Response times are paired over all in-range
    records (conversations may span groups) and each reply is attributed to the group of
    its bot record, or of the user record it answers when ``replies_by_user`` (the rule for
    countries: a reply belongs to the client who waited). Groups appear in order of first
    occurrence.
    """
    selected = _in_range(records, since, until)
    groups: dict[_K, list[Record]] = {}
    for record in selected:
        groups.setdefault(key_fn(record), []).append(record)
    responses: dict[_K, list[float]] = {}
    for user_record, bot_record, ms in _response_pairs(selected):
        owner = user_record if replies_by_user else bot_record
        responses.setdefault(key_fn(owner), []).append(ms)
    return {key: _metrics(group, responses.get(key, []), top) for key, group in groups.items()}


def time_bucket(by: str, timezone: str = "UTC") -> Callable[[Record], str]:
    """The ``--by`` key of a time bucket (``day``, ``hour``, ``week``, ``month``) as its label,
    from the record's local time in ``timezone``."""
    zone: tzinfo = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)

    def key(record: Record) -> str:
        local = record["timestamp"].astimezone(zone)
        if by == "week":
            year, week, _ = local.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if by == "month":
            return f"{local.year:04d}-{local.month:02d}"
        if by == "hour":
            return f"{local:%Y-%m-%d %H}:00"
        if by == "day":
            return local.date().isoformat()
        raise ValueError(f"not a time bucket: {by}")

    return key


def _message_cost(record: Record, prices: dict[str, tuple[float, float]]) -> float | None:
    """A message's USD, 0.0 when it has no tokens to price, None when its tokens have no
    price (no prompt/completion split, or a model without rates)."""
    split = record["prompt_tokens"] is not None or record["completion_tokens"] is not None
    rates = prices.get(record["model"] or "")
    if split and rates is not None:
        prompt, completion = record["prompt_tokens"] or 0, record["completion_tokens"] or 0
        return (prompt * rates[0] + completion * rates[1]) / 1_000_000
    has_tokens = any((record[name] or 0) > 0 for name in _TOKEN_FIELDS)  # type: ignore[literal-required]
    return None if has_tokens else 0.0


def compute_top(
    records: list[Record],
    n: int = 10,
    prices: dict[str, tuple[float, float]] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The report's ``top``: per field the first ``n`` names by tokens, then name, each with
    ``tokens``, ``messages``, ``usd`` (of its priced messages) and ``unpriced_messages``."""
    selected = _in_range(records, since, until)
    result: dict[str, list[dict[str, Any]]] = {}
    for field, key in (
        ("conversation_id", "conversations"),
        ("user_id", "users"),
        ("model", "models"),
    ):
        totals: dict[str, dict[str, Any]] = {}
        for record in selected:
            name = record[field]  # type: ignore[literal-required]
            if name is None:
                continue
            entry = totals.setdefault(
                name, {"name": name, "tokens": 0, "messages": 0, "usd": [], "unpriced_messages": 0}
            )
            entry["tokens"] += _record_total(record)
            entry["messages"] += 1
            cost = _message_cost(record, prices or {})
            if cost is None:
                entry["unpriced_messages"] += 1
            else:
                entry["usd"].append(cost)
        ranked = sorted(
            (entry for entry in totals.values() if entry["tokens"] > 0),
            key=lambda entry: (-entry["tokens"], entry["name"]),
        )
        result[key] = [{**entry, "usd": math.fsum(entry["usd"])} for entry in ranked[:n]]
    return result
