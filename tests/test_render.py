"""Rendered output pinned by golden files (review a diff, then BOTISTAT_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from botistat.core.model import (
    Contributor,
    Cost,
    Countries,
    CountryAggregate,
    CountryRow,
    CountrySourceInfo,
    Errors,
    Group,
    InputSummary,
    Messages,
    Metrics,
    ModelCost,
    Report,
    ResponseTimes,
    Spike,
    TimelinePoint,
    Tokens,
    TopItem,
    TopUsage,
    UnpricedModel,
)
from botistat.render import RENDERERS, Terminal, render
from botistat.render.sections import MAX_MARKS, timeline_section

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
        cost=Cost(
            total_usd=2.9637,
            partial=True,
            by_model=(
                ModelCost("gpt-4o", 2.9125, 560, "genai-prices"),
                ModelCost("gpt-4o-mini", 0.0512, 30, "log"),
            ),
            unpriced_models=(UnpricedModel("llama-3.1-70b", 10, 3_000, 1_000, 4_000, 0, 0),),
            source="genai-prices 0.2.5",
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
        top_usage=TopUsage(
            conversations=(
                TopItem("conv-loop-17", 120_000, 40, 0.61),
                TopItem("conv-2a7f9c31-5b8e-4d0a-9f3e-7c1b2d4e6f80", 9_000, 12, 0.0412),
            ),
            users=(TopItem("user-7", 150_000, 300, 0.72, 4), TopItem("user-3", 4_000, 9, 0.0, 9)),
            models=(
                TopItem("gpt-4o", 600_000, 560, 2.9125),
                TopItem("llama-3.1-70b", 4_000, 10, 0.0, 10),
            ),
        ),
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


def test_markdown_title_names_the_period() -> None:
    text = render(sample_report(), "markdown")
    assert text.splitlines()[0] == "# botistat report, 2026-11-19 00:00 to 2026-11-19 23:59 UTC"
    ranged = replace(
        sample_report(),
        input=replace(
            sample_report().input,
            since=datetime(2026, 11, 17, tzinfo=UTC),
            until=datetime(2026, 11, 20, tzinfo=UTC),
        ),
    )
    # A range asked for is the period, whatever the records.
    assert render(ranged, "markdown").startswith(
        "# botistat report, 2026-11-17 00:00 to 2026-11-20 00:00 UTC\n"
    )


def test_spike_ids_whole_in_every_format() -> None:
    long_id = "conv-2a7f9c31-5b8e-4d0a-9f3e-7c1b2d4e6f80"
    report = sample_report()
    spike = replace(report.metrics.spikes[0], conversations=(Contributor(long_id, 120_000),))
    report = replace(report, metrics=replace(report.metrics, spikes=(spike,)))
    [markdown_row] = [
        line for line in render(report, "markdown").splitlines() if "| (all) | tokens |" in line
    ]
    assert markdown_row.endswith(f"| {long_id} |")
    for fmt in ("table", "text", "html"):
        rendered = render(report, fmt)
        assert long_id in rendered[rendered.index("Spikes") :], fmt
    # A terminal too narrow for the id hides the column and says so; it never cuts the id.
    narrow = render(report, "table", Terminal(color=False, width=70, tty=True))
    narrow = narrow[narrow.index("Spikes") :]
    assert "conv-2a7f9c31" not in narrow and "…" not in narrow
    assert "Hidden at this width: Top" in narrow


def test_terminal_view_shows_the_sparklines() -> None:
    coloured = render(sample_report(), "table", Terminal(color=True, width=100))
    plain = "".join(part.split("m", 1)[-1] for part in coloured.split("\x1b["))
    lines = plain.splitlines()
    assert lines[0].strip() == "Over time"
    messages = next(line for line in lines if "Messages" in line and "#" in line)
    tokens = next(line for line in lines if "Tokens" in line and "#" in line)
    # Per hour: 300, 320, 900, 880, 310 messages (eighths of the highest: 2, 2, 7, 7, 2) and
    # 9,000, 9,500, 90,000, 60,000, 8,000 tokens (0, 0, 7, 5, 0), as the text format draws
    # them (in ASCII: the same table is plain ASCII when not on a terminal).
    assert "| ::##: |" in messages.replace("│", "|") and messages.rstrip("│ ").endswith("900")
    assert "| __#+_ |" in tokens.replace("│", "|") and tokens.rstrip("│ ").endswith("90,000")
    assert "One mark per 1h from 2026-11-19 12:00 UTC." in " ".join(plain.split())
    assert "▃▃██▃" in render(sample_report(), "text") and "▁▁█▆▁" in render(sample_report(), "text")
    assert render(sample_report(), "table").isascii()


def test_long_timelines_sum_buckets_into_marks() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    points = tuple(
        TimelinePoint(start + timedelta(hours=hour), 1 if hour < 96 else 3, 10)
        for hour in range(192)
    )
    section = timeline_section(replace(sample_report(), timeline=points), blocks=True)
    [(_, messages, peak), (_, tokens, tokens_peak)] = section.rows
    # 192 hours: 4 buckets to a mark, 48 marks; the second half has three times the messages.
    assert len(messages) == MAX_MARKS == 48
    assert messages == "▃" * 24 + "█" * 24 and peak == "12"  # 4 / 12 of the highest: ▃
    assert tokens == "█" * 48 and tokens_peak == "40"
    assert section.note == "One mark per 4h from 2026-11-01 00:00 UTC."


def test_top_sections_in_every_text_format() -> None:
    for fmt in ("table", "text", "markdown"):
        text = render(sample_report(), fmt)
        for title in ("Top conversations by tokens", "Top users by tokens", "Top models by tokens"):
            assert title in text, (fmt, title)
        assert "user-7" in text and "$0.7200+" in text and "unpriced" in text
    # Lists with nothing in them are left out.
    empty = replace(sample_report(), top_usage=TopUsage())
    assert "Top users" not in render(empty, "table")
