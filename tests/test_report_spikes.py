"""Spikes in reports: a query loop injected into three days of seasonal traffic."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
