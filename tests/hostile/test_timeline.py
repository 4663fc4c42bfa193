"""One record with an outlying timestamp must cost one record: the timeline and the spike
series are bounded by the records, not by the years between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_jsonl
from tests.hostile.conftest import nonblank_lines, report_json, run_hostile

OUTLIERS = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1900-01-01T00:00:00Z", 0)


def chat_with(tmp_path: Path, outliers: tuple[Any, ...]) -> Path:
    rows: list[dict[str, Any]] = []
    for minute in range(30):
        at = f"2026-11-19T10:{minute:02d}"
        rows.append({"timestamp": f"{at}:00Z", "conversation_id": f"c{minute}", "role": "user"})
        rows.append(
            {
                "timestamp": f"{at}:02Z",
                "conversation_id": f"c{minute}",
                "role": "bot",
                "total_tokens": 100,
            }
        )
    rows += [
        {"timestamp": t, "conversation_id": "x", "role": "bot", "total_tokens": 5} for t in outliers
    ]
    return write_jsonl(tmp_path / "chat.jsonl", rows)


@pytest.mark.parametrize("bucket", ["1h", "1m"])
def test_outlying_timestamps_keep_the_timeline_small(tmp_path: Path, bucket: str) -> None:
    log = chat_with(tmp_path, OUTLIERS)
    document, _ = report_json(str(log), "--bucket", bucket)
    assert document["input"]["records"] == nonblank_lines(log)
    assert document["input"]["first_timestamp"] == "0001-01-01T00:00:00Z"
    assert document["input"]["last_timestamp"] == "9999-12-31T23:59:59Z"
    timeline = document["timeline"]
    # Only the buckets with records: the years between are not laid out bucket by bucket.
    assert timeline["dense"] is False
    assert len(timeline["points"]) <= nonblank_lines(log)
    assert sum(point["tokens"] for point in timeline["points"]) == 30 * 100 + 4 * 5
    assert document["tokens"]["total"] == 30 * 100 + 4 * 5


@pytest.mark.parametrize("outlier", OUTLIERS)
def test_each_outlier_alone_through_every_command(tmp_path: Path, outlier: Any) -> None:
    log = chat_with(tmp_path, (outlier,))
    for fmt in ("json", "text", "html", "markdown", "csv"):
        result = run_hostile("report", str(log), "-f", fmt, "--bucket", "1m", "--by", "hour")
        assert result.returncode == 0, result.stderr
    check = run_hostile("check", str(log), "-t", "errors.rate < 5%", "-t", "spikes.count < 1")
    assert check.returncode == 0, check.stderr
    replay = run_hostile("watch", str(log), "--replay", "-f", "jsonl", "--bucket", "1m")
    assert replay.returncode == 0, replay.stderr
    buckets = [line for line in replay.stdout.splitlines() if b'"bucket"' in line]
    assert len(buckets) < 200  # not a line per minute since year 1


def test_a_dense_timeline_keeps_its_empty_buckets(tmp_path: Path) -> None:
    """Within a normal span the timeline still lists empty buckets as zeros."""
    rows = [
        {"timestamp": "2026-11-19T10:00:00Z", "role": "user", "total_tokens": 1},
        {"timestamp": "2026-11-19T13:00:00Z", "role": "user", "total_tokens": 2},
    ]
    document, _ = report_json(str(write_jsonl(tmp_path / "x.jsonl", rows)))
    points = document["timeline"]["points"]
    assert document["timeline"]["dense"] is True
    assert [p["tokens"] for p in points] == [1, 0, 0, 2]
