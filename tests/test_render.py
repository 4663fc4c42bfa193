"""Rendered output pinned by golden files (review a diff, then BOTISTAT_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from botistat.core.model import (
    Contributor,
    Countries,
    CountryAggregate,
    CountryRow,
    CountrySourceInfo,
    Errors,
    Group,
    InputSummary,
    Messages,
    Metrics,
    Report,
    ResponseTimes,
    Spike,
    TimelinePoint,
    Tokens,
)
from botistat.render import RENDERERS, Terminal, render

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {
    "json": "json",
    "csv": "csv",
    "markdown": "md",
    "table": "txt",
    "html": "html",
    "text": "text.txt",
}


def sample_report() -> Report:
    support = Metrics(
        messages=Messages(total=1200, user=600, bot_responses=590, failed=12),
        response_ms=ResponseTimes(
            count=580, avg=1834.25, p50=1200.0, p90=3100.5, p95=4200.0, p99=9100.0, max=15000.0
        ),
        tokens=Tokens(prompt=512_000, completion=128_500, total=640_500, error=4_200),
        errors=Errors(transactions=9, rate=9 / 602),
        countries=Countries(
            top=(
                CountryRow("DE", 500, 120, 0.5, "Germany", 90, 300_000, 1500.5),
                CountryRow("US", 300, 80, 0.3, "United States", 60, 200_000, None),
            ),
            other_countries=3,
            other=CountryAggregate(200, 40, 30, 100_000, 2000.0, 0.2),
            unknown=CountryAggregate(200, 50, 10, 40_500, None),
            unknown_reasons=(("no_ip", 150), ("private", 50), ("invalid", 0), ("not_found", 0)),
            source=CountrySourceInfo("GeoLite2-Country", "mmdb", "2026-11-18", "2026-11-18", "x"),
        ),
        spikes=(
            Spike(
                metric="tokens",
                start=datetime(2026, 11, 19, 14, tzinfo=UTC),
                end=datetime(2026, 11, 19, 16, tzinfo=UTC),
                buckets=2,
                peak=90_000.0,
                baseline=9_000.0,
                threshold=18_000.0,
                ratio=10.0,
                tokens=150_000,
                bots=(Contributor("support", 140_000),),
                models=(Contributor("gpt-4o", 150_000),),
                conversations=(Contributor("conv-loop-17", 120_000), Contributor("c2", 900)),
            ),
        ),
    )
    sales = Metrics(messages=Messages(total=10, user=10), errors=Errors(transactions=0, rate=None))
    return Report(
        input=InputSummary(
            files=3,
            records=1210,
            skipped=2,
            skipped_by_file=(("logs/a.jsonl", 2),),
            skipped_examples=("logs/a.jsonl:7: invalid JSON", "logs/a.jsonl:9: missing role"),
            ignored=5,
            first_timestamp=datetime(2026, 11, 19, 0, 0, 1, tzinfo=UTC),
            last_timestamp=datetime(2026, 11, 19, 23, 59, 58, 250000, tzinfo=UTC),
        ),
        metrics=support,
        by="bot_id",
        groups=(Group("support", support), Group("sales", sales), Group(None, Metrics())),
        timeline=tuple(
            TimelinePoint(datetime(2026, 11, 19, hour, tzinfo=UTC), messages, tokens)
            for hour, messages, tokens in (
                (12, 300, 9_000),
                (13, 320, 9_500),
                (14, 900, 90_000),
                (15, 880, 60_000),
                (16, 310, 8_000),
            )
        ),
    )


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_golden(fmt: str) -> None:
    text = render(sample_report(), fmt, Terminal(color=False, width=100))
    path = GOLDEN / f"report.{SUFFIX[fmt]}"
    if os.environ.get("BOTISTAT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_json_keys_are_the_metric_names() -> None:
    doc = json.loads(render(sample_report(), "json"))
    assert list(doc) == [
        "schema_version",
        "input",
        "messages",
        "response_ms",
        "tokens",
        "errors",
        "countries",
        "spikes",
        "cost",
        "top",
        "timeline",
        "by",
        "groups",
    ]
    assert doc["spikes"][0]["top"]["conversations"][0] == {
        "name": "conv-loop-17",
        "tokens": 120_000,
    }
    assert doc["spikes"][0]["start"] == "2026-11-19T14:00:00Z"
    assert doc["errors"]["rate"] == 0.0149502  # 9 / 602, to 6 significant digits
    assert doc["groups"][2]["key"] is None
    assert doc["countries"]["other"]["countries"] == 3
    assert doc["countries"]["other"]["messages"] == 200
    assert doc["countries"]["unknown"]["reasons"]["private"] == 50


def test_csv_has_a_row_per_group_and_a_column_per_metric() -> None:
    rows = list(csv.DictReader(io.StringIO(render(sample_report(), "csv"))))
    assert [row["group"] for row in rows] == ["(all)", "support", "sales", ""]
    assert rows[1]["response_ms.p95"] == "4200.0"
    assert rows[2]["errors.rate"] == ""


def test_colour_only_when_asked() -> None:
    coloured = render(sample_report(), "table", Terminal(color=True, width=100))
    plain = render(sample_report(), "table", Terminal(color=False, width=100))
    assert "\x1b[" in coloured
    assert "\x1b[" not in plain
