"""``--range`` and ``--compare previous``: yesterday against the day before, by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from botistat.report.compare import Change
from tests.conftest import invoke, write_jsonl

MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def exchange(at: datetime, conversation: str, tokens: int, delay: int, **bot: Any) -> list[Any]:
    return [
        {"timestamp": at.isoformat(), "role": "user", "conversation_id": conversation},
        {
            "timestamp": (at + timedelta(seconds=delay)).isoformat(),
            "role": "assistant",
            "conversation_id": conversation,
            "total_tokens": tokens,
            **bot,
        },
    ]


@pytest.fixture
def two_days(tmp_path: Path) -> Path:
    yesterday = MIDNIGHT - timedelta(days=1)
    before = MIDNIGHT - timedelta(days=2)
    # The day before: 2 exchanges, 100 tokens each, replies of 2 s; no errors.
    # Yesterday: 3 exchanges, 200 tokens each, replies of 1 s; one API error.
    records = [
        *exchange(before + timedelta(hours=9), "a", 100, 2),
        *exchange(before + timedelta(hours=10), "b", 100, 2),
        *exchange(yesterday + timedelta(hours=9), "c", 200, 1),
        *exchange(yesterday + timedelta(hours=10), "d", 200, 1, error=True),
        *exchange(yesterday + timedelta(hours=11), "e", 200, 1),
        *exchange(MIDNIGHT + timedelta(minutes=1), "today", 999, 1),
    ]
    return write_jsonl(tmp_path / "logs.jsonl", records)


def test_yesterday_against_the_day_before(cli: CliRunner, two_days: Path) -> None:
    result = invoke(
        cli, "report", str(two_days), "--range", "yesterday", "--compare", "previous", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["messages"]["total"] == 6
    assert doc["previous"]["messages"]["total"] == 4
    assert doc["input"]["since"] == (MIDNIGHT - timedelta(days=1)).isoformat().replace(
        "+00:00", "Z"
    )
    change = doc["change"]
    assert change["messages.total"] == {"absolute": 2.0, "percent": 50.0}
    assert change["tokens.total"] == {"absolute": 400.0, "percent": 200.0}
    assert change["response_ms.avg"] == {"absolute": -1000.0, "percent": -50.0}
    # No errors before: the rate goes from 0 to 1/3; a percent change from 0 is undefined.
    assert change["errors.rate"]["absolute"] == pytest.approx(1 / 3)
    assert change["errors.rate"]["percent"] is None


def test_change_table_has_arrows(cli: CliRunner, two_days: Path) -> None:
    result = invoke(
        cli, "report", str(two_days), "--range", "yesterday", "--compare", "previous", "-f", "table"
    )
    text = result.stdout
    assert "Change vs previous period" in text
    line = next(row for row in text.splitlines() if "Total messages" in row and "▲" in row)
    assert "▲ +2 (+50.0%)" in line
    assert "▼ -1,000.0 (-50.0%)" in text


def test_compare_needs_a_period(cli: CliRunner, two_days: Path) -> None:
    result = invoke(cli, "report", str(two_days), "--compare", "previous")
    assert result.exit_code == 2
    assert "--compare needs a period" in result.stderr
    clash = invoke(cli, "report", str(two_days), "--range", "today", "--since", "1d")
    assert clash.exit_code == 2


def test_compare_refuses_stdin_instead_of_an_empty_previous_period(
    cli: CliRunner, two_days: Path
) -> None:
    result = invoke(
        cli,
        "report",
        "-",
        "--range",
        "yesterday",
        "--compare",
        "previous",
        input=two_days.read_text(),
    )
    assert result.exit_code == 2
    assert "cannot read standard input twice" in result.stderr
    assert result.stdout == ""


def test_tones() -> None:
    assert Change("errors.rate", 0.2, 0.1).tone == "bad"
    assert Change("response_ms.p95", 900.0, 1200.0).tone == "good"
    assert Change("messages.total", 10, 5).tone == "neutral"
    assert Change("messages.total", 10, 0).percent is None
