"""Spikes in reports: a query loop injected into three days of seasonal traffic."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import invoke, write_jsonl

START = datetime(2026, 11, 17, tzinfo=UTC)
LOOP_HOUR = START + timedelta(days=1, hours=14)


def traffic(rng: random.Random) -> list[dict[str, Any]]:
    """Three days of hourly traffic with a daily rhythm, plus one looping conversation."""
    records: list[dict[str, Any]] = []
    for hour in range(72):
        at = START + timedelta(hours=hour)
        busy = 0.3 + 0.7 * max(0.0, 1 - abs((at.hour - 14) / 9))  # quiet nights, busy days
        for i in range(int(40 * busy + rng.randint(0, 5))):
            conversation = f"c{hour}-{i}"
            moment = at + timedelta(seconds=rng.randint(0, 3500))
            records.append(
                {"timestamp": moment.isoformat(), "role": "user", "conversation_id": conversation}
            )
            records.append(
                {
                    "timestamp": (moment + timedelta(seconds=2)).isoformat(),
                    "role": "assistant",
                    "conversation_id": conversation,
                    "bot_id": rng.choice(["support", "sales"]),
                    "model": "gpt-4o-mini",
                    "prompt_tokens": rng.randint(800, 1200),
                    "completion_tokens": rng.randint(100, 300),
                }
            )
    # A query loop: one conversation asking the same thing 150 times within the hour.
    for turn in range(150):
        moment = LOOP_HOUR + timedelta(seconds=5 + turn * 20)
        records.append({"timestamp": moment.isoformat(), "role": "user", "conversation_id": "loop"})
        records.append(
            {
                "timestamp": (moment + timedelta(seconds=3)).isoformat(),
                "role": "assistant",
                "conversation_id": "loop",
                "bot_id": "support",
                "model": "gpt-4o",
                "prompt_tokens": 3000 + 40 * turn,
                "completion_tokens": 250,
            }
        )
    records.sort(key=lambda r: r["timestamp"])
    return records


def test_the_loop_hour_is_flagged(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "three-days.jsonl", traffic(random.Random(3)))
    result = invoke(cli, "report", str(log), "--format", "json")
    assert result.exit_code == 0, result.stderr
    spikes = json.loads(result.stdout)["spikes"]
    token_spikes = [s for s in spikes if s["metric"] == "tokens"]
    starts = [s["start"] for s in token_spikes]
    assert "2026-11-18T14:00:00Z" in starts
    assert len(spikes) <= 2
    loop = next(s for s in token_spikes if s["start"] == "2026-11-18T14:00:00Z")
    assert loop["end"] == "2026-11-18T15:00:00Z"
    assert loop["top"]["conversations"][0]["name"] == "loop"
    assert loop["top"]["models"][0]["name"] == "gpt-4o"
    assert loop["ratio"] > 2
    assert loop["tokens"] > loop["baseline"] * 2


def test_settings_change_what_is_flagged(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "three-days.jsonl", traffic(random.Random(3)))
    strict = invoke(cli, "report", str(log), "-f", "json", "--min-tokens", "10000000")
    assert json.loads(strict.stdout)["spikes"] == []
    # With 5-minute buckets the loop shows as a run of buckets inside that hour.
    fine = invoke(cli, "report", str(log), "-f", "json", "--bucket", "5m", "--window", "36")
    tokens = [s for s in json.loads(fine.stdout)["spikes"] if s["metric"] == "tokens"]
    assert any(s["start"].startswith("2026-11-18T14:") for s in tokens)


def test_spikes_per_group(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "three-days.jsonl", traffic(random.Random(3)))
    doc = json.loads(invoke(cli, "report", str(log), "-f", "json", "--by", "bot_id").stdout)
    groups = {g["key"]: g for g in doc["groups"]}
    assert any(s["start"] == "2026-11-18T14:00:00Z" for s in groups["support"]["spikes"])
    assert not any(s["metric"] == "tokens" for s in groups["sales"]["spikes"])


@given(
    replies=st.lists(
        st.tuples(st.integers(0, 30 * 3600), st.floats(0, 1e6, allow_nan=False)), max_size=300
    ),
    slice_rows=st.integers(1, 60),
    grouped=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_p95_per_bucket_in_slices_is_the_p95_per_bucket(
    replies: list[tuple[int, float]], slice_rows: int, grouped: bool
) -> None:
    """Taking the p95 a few buckets at a time (bounded memory) changes nothing, against a
    plain-Python linear-interpolation percentile."""
    import polars as pl

    from botistat.metrics.reply_series import MIN_REPLIES, reply_p95_in_slices

    frame = pl.DataFrame(
        {
            "reply_at": [START + timedelta(seconds=s) for s, _ in replies],
            "response_ms": [ms for _, ms in replies],
            "group": [s % 2 for s, _ in replies],
        },
        schema={
            "reply_at": pl.Datetime("us", "UTC"),
            "response_ms": pl.Float64,
            "group": pl.Int64,
        },
    )
    by = ["group"] if grouped else []
    got = reply_p95_in_slices(frame.lazy(), by, 3600, slice_rows=slice_rows)
    buckets: dict[tuple[Any, ...], list[float]] = {}
    for (s, ms), group in zip(replies, frame["group"], strict=True):
        key = ((group,) if grouped else ()) + (START + timedelta(hours=s // 3600),)
        buckets.setdefault(key, []).append(ms)
    expected = {
        key: p95(values) if len(values) >= MIN_REPLIES else None for key, values in buckets.items()
    }
    assert {tuple(row[:-2]): row[-1] for row in got.iter_rows()} == pytest.approx(expected)
    assert {tuple(row[:-2]): row[-2] for row in got.iter_rows()} == {
        key: len(values) for key, values in buckets.items()
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    position = 0.95 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 12), st.integers(0, 4)),
        min_size=1,
        max_size=120,
    ),
    st.integers(1, 3),
)
def test_top_conversations_per_bucket_match_plain_python(
    records: list[tuple[int, int, int]], partitions: int
) -> None:
    """The top conversations of each bucket, by tokens then name, with many ties, from
    partials of record sets that share no conversation (as the partitions are)."""
    import polars as pl

    from botistat.core.schema import canonical_schema
    from botistat.metrics.buckets import (
        TOP_CONTRIBUTORS,
        bucket_contributors,
        merge_contributors,
    )

    schema = canonical_schema()
    rows = [
        {
            "timestamp": START + timedelta(hours=hour, minutes=1),
            "conversation_id": f"c{conversation:02d}",
            "role": "bot",
            "total_tokens": tokens,
        }
        for hour, conversation, tokens in records
    ]
    frame = pl.DataFrame([dict.fromkeys(schema) | row for row in rows], schema=schema)
    parts = [
        frame.filter(pl.col("conversation_id").hash(1) % partitions == i).lazy()
        for i in range(partitions)
    ]
    partials = pl.concat([bucket_contributors(part, [], 3600, "conversation_id") for part in parts])
    merged = merge_contributors(partials.lazy(), []).collect()
    got = {
        bucket.replace(tzinfo=UTC): names
        for bucket, names in merged.group_by("bucket", maintain_order=True)
        .agg(pl.col("name"))
        .iter_rows()
    }

    totals: dict[int, dict[str, int]] = {}
    for hour, conversation, tokens in records:
        per_hour = totals.setdefault(hour, {})
        name = f"c{conversation:02d}"
        per_hour[name] = per_hour.get(name, 0) + tokens
    expected = {}
    for hour, per_name in totals.items():
        ranked = sorted((-t, name) for name, t in per_name.items() if t > 0)
        if ranked:
            expected[START + timedelta(hours=hour)] = [n for _, n in ranked[:TOP_CONTRIBUTORS]]
    assert got == expected
