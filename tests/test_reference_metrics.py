"""Every metric against an independent plain-Python implementation (tests/reference.py).

Datasets are generated (tests/datasets.py) with every awkward case mixed in; botistat reads
them with small blocks so records also straddle block boundaries.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botistat.core.config import parse_config
from botistat.core.model import CountrySourceInfo
from botistat.engine.local import report_from_scan
from botistat.ingest import resolve_sources, scan_sources
from botistat.report.options import ReportOptions
from botistat.report.plain import iso_time, metrics_document
from tests import reference
from tests.datasets import write_dataset

METRICS = ("messages", "response_ms", "tokens", "errors", "countries")


class NoLookup:
    """A country source that knows no address: countries come from the records' own field,
    as the reference computes them (IP lookups are tested in test_countries.py)."""

    info = CountrySourceInfo(name="none", kind="test")

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        return [None] * len(addresses)


def botistat_report(
    paths: list[Path], fields: dict[str, str], block_size: int, **options: Any
) -> Any:
    config = parse_config({"fields": fields} if fields else {})
    sources = resolve_sources([str(p) for p in paths])
    scan = scan_sources(sources, config, block_size=block_size)
    return report_from_scan(scan, ReportOptions(**options), NoLookup())


#: Keys whose floats the document rounds (docs/metrics.md, "Numbers in JSON and CSV"): to
#: 3 decimals (milliseconds), or to 6 significant digits (rates and shares).
MILLISECOND_KEYS = frozenset({"avg", "p50", "p90", "p95", "p99", "max", "avg_response_ms"})
FRACTION_KEYS = frozenset({"rate", "share"})


def same(ours: Any, expected: Any, key: str = "") -> bool:
    """Equal where ``expected`` says anything (botistat may report more keys), with floats
    compared to 1e-9 relative, plus what rounding them for the document may take off (by
    their ``key``), and None only equal to None."""
    if isinstance(expected, dict):
        return isinstance(ours, dict) and all(
            k in ours and same(ours[k], expected[k], k) for k in expected
        )
    if isinstance(expected, list):
        return (
            isinstance(ours, list)
            and len(ours) == len(expected)
            and all(same(a, b, key) for a, b in zip(ours, expected, strict=True))
        )
    if isinstance(expected, float) and isinstance(ours, float | int):
        computed = 1e-9 * abs(expected)
        if key in MILLISECOND_KEYS:
            return abs(ours - expected) <= 0.5e-3 + computed
        if key in FRACTION_KEYS:
            return abs(ours - expected) <= 5e-6 * abs(expected) + computed
        return ours == pytest.approx(expected, rel=1e-9)
    return type(ours) is type(expected) and bool(ours == expected)


def assert_same_metrics(ours: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in METRICS:
        assert same(ours[key], expected[key]), (key, ours[key], expected[key])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    conversations=st.integers(min_value=0, max_value=60),
    nested=st.booleans(),
    block_size=st.sampled_from([64, 1000, 1 << 20]),
    top=st.integers(min_value=1, max_value=4),
    partitions=st.sampled_from([0, 0, 1, 3, 7]),
)
def test_report_matches_reference(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    conversations: int,
    nested: bool,
    block_size: int,
    top: int,
    partitions: int,
) -> None:
    directory = tmp_path_factory.mktemp("dataset")
    dataset = write_dataset(random.Random(seed), directory, conversations, nested)
    report = botistat_report(
        dataset.paths, dataset.fields, block_size, top=top, partitions=partitions
    )
    records, skipped = reference.load_records(dataset.paths, dataset.fields)
    expected = reference.compute_metrics(records, top=top)

    assert_same_metrics(metrics_document(report.metrics), expected)
    assert report.input.skipped == skipped
    assert report.input.records == expected["input"]["records"]
    assert report.input.ignored == expected["input"]["ignored"]
    assert report.input.first_timestamp == expected["input"]["first_timestamp"]
    assert report.input.last_timestamp == expected["input"]["last_timestamp"]


@pytest.fixture(scope="module")
def big_dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("big")
    dataset = write_dataset(random.Random(20261125), directory, 3000, nested=True)
    records, _ = reference.load_records(dataset.paths, dataset.fields)
    return dataset, records


@pytest.mark.parametrize(
    ("by", "partitions"),
    [
        ("bot_id", 0),
        ("day", 0),
        ("day", 5),
        ("hour", 0),
        ("country", 3),
        ("channel", 0),
        ("model", 2),
    ],
)
def test_groups_match_reference(big_dataset: Any, by: str, partitions: int) -> None:
    dataset, records = big_dataset
    report = botistat_report(dataset.paths, dataset.fields, 1 << 16, by=by, partitions=partitions)

    def key(record: reference.Record) -> str | None:
        if by == "day":
            return record["timestamp"].strftime("%Y-%m-%d")
        if by == "hour":
            return record["timestamp"].strftime("%Y-%m-%d %H:00")
        value: str | None = record[by]  # type: ignore[literal-required]
        return value

    expected = reference.compute_grouped(records, key, replies_by_user=by == "country")
    assert {group.key for group in report.groups} == set(expected)
    for group in report.groups:
        assert_same_metrics(metrics_document(group.metrics), expected[group.key])
    assert_same_metrics(metrics_document(report.metrics), reference.compute_metrics(records))


def test_time_range_matches_reference(big_dataset: Any) -> None:
    dataset, records = big_dataset
    since = datetime(2026, 11, 18, 6, tzinfo=UTC)
    until = datetime(2026, 11, 19, 12, 30, tzinfo=UTC)
    report = botistat_report(
        dataset.paths, dataset.fields, 1 << 20, since=since, until=until, partitions=4
    )
    expected = reference.compute_metrics(records, since=since, until=until)
    assert_same_metrics(metrics_document(report.metrics), expected)
    assert iso_time(report.input.first_timestamp) == iso_time(expected["input"]["first_timestamp"])
    assert report.input.records == expected["input"]["records"]


def test_sample_logs_match_reference() -> None:
    root = Path(__file__).resolve().parent.parent / "sample_logs"
    sources = resolve_sources([str(root)])
    paths = [s.path for s in sources if s.path is not None]
    report = botistat_report(paths, {}, 1 << 20)
    records, skipped = reference.load_records(paths)
    assert_same_metrics(metrics_document(report.metrics), reference.compute_metrics(records))
    assert report.input.skipped == skipped == 5
    assert report.input.files == 9


def year_end_logs(rng: random.Random, directory: Path) -> list[Path]:
    """Conversations from late November 2026 to mid January 2027, and around the turn of 2026,
    with timestamps in several offsets: across month ends, ISO weeks that belong to the year
    after their Monday's (2026-W01 begins on 29 December 2025) or to the year before their
    Sunday's (2026-W53 ends on 3 January 2027), and turns of the year that local time moves."""
    lines = []
    for index in range(400):
        start, days = rng.choice(
            [(datetime(2026, 11, 25, tzinfo=UTC), 52), (datetime(2025, 12, 27, tzinfo=UTC), 8)]
        )
        moment = start + timedelta(seconds=rng.uniform(0, days * 86400))
        for turn in range(rng.randint(1, 4)):
            moment += timedelta(seconds=rng.choice([1, 30, 3600]))
            offset = timedelta(hours=rng.choice([-5, 0, 1, 13]))
            stamp = (moment + offset).replace(tzinfo=None).isoformat(timespec="milliseconds")
            sign = "-" if offset < timedelta(0) else "+"
            hours = abs(int(offset.total_seconds())) // 3600
            role = "user" if turn % 2 == 0 else "bot"
            record = {
                "timestamp": f"{stamp}{sign}{hours:02d}:00",
                "conversation_id": f"c{index}",
                "role": role,
                "prompt_tokens": rng.randrange(500) if role == "bot" else None,
                "country": rng.choice(["DE", "US", None]),
            }
            lines.append(json.dumps(record))
    rng.shuffle(lines)
    path = directory / "year-end.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return [path]


@pytest.mark.parametrize(
    ("by", "timezone", "partitions"),
    [
        ("week", "Pacific/Auckland", 0),
        ("week", "America/New_York", 3),
        ("month", "Pacific/Auckland", 3),
        ("month", "America/New_York", 0),
        ("day", "Pacific/Auckland", 0),
    ],
)
def test_week_and_month_groups_match_reference(
    tmp_path: Path, by: str, timezone: str, partitions: int
) -> None:
    paths = year_end_logs(random.Random(47), tmp_path)
    report = botistat_report(paths, {}, 1 << 16, by=by, timezone=timezone, partitions=partitions)
    records, _ = reference.load_records(paths)
    expected = reference.compute_grouped(records, reference.time_bucket(by, timezone))
    labels = [group.key for group in report.groups]
    assert labels == sorted(expected)  # in time order
    for group in report.groups:
        assert_same_metrics(metrics_document(group.metrics), expected[group.key])
    if by == "week":
        assert {"2026-W01", "2026-W53", "2027-W01"} <= set(labels)
    if by == "month":
        assert labels == ["2025-12", "2026-01", "2026-11", "2026-12", "2027-01"]
