"""Every metric on a small hand-worked dataset; the expected numbers are worked out below.

Conversation A (bot_id support), day1.jsonl:
  A1 user 10:00:00Z country DE            A2 bot 12:00:02.5+02:00 (=10:00:02.5Z) p100 c20
  A3 bot 10:00:03Z total_tokens 30 (second part of the same reply: not a new reply)
  A4 user epoch seconds 10:01:00Z, DE     A5 bot 10:01:01Z failed, error, p50
  A6 bot epoch ms 10:01:04Z p80 c40 (retry: timed from A4)
Conversation B (bot_id support), split over day1.csv and day2.jsonl.gz:
  B1 user naive 2026-11-19 23:59:58 US    B2 bot 00:00:01Z p10 c5 total 15, error_code 500
  B3 system (ignored)                      B4 user 00:00:03Z "us"   B5 bot 00:00:03Z p7 c3
Conversation C (bot_id sales), day2.jsonl.gz:
  C1 user naive 2026-11-20 08:00:00 FR    C2 bot 08:00:05Z undelivered, error false + code, p40
Malformed: a bad timestamp (day1.jsonl), a short CSV row (day1.csv), broken JSON (day2).

Messages: 12 (users A1 A4 B1 B4 C1 = 5; bots A2 A3 A5 A6 B2 B5 C2 = 7); bot responses are
the bots not failed: A2 A3 A6 B2 B5 = 5; failed A5 C2 = 2. Records (messages) 12, ignored 1 (B3).
Tokens: prompt 100+50+80+10+7+40 = 287; completion 20+40+5+3 = 68;
total 120+30+50+120+15+10+40 = 385; error tokens A5 50 + B2 15 = 65 (C2 has error: false).
Errors: A5 and B2 of 7 bot records -> 2/7.
Replies: A2 2500 ms, A6 4000 ms, B2 3000 ms, B5 0 ms -> sorted 0, 2500, 3000, 4000:
avg 2375, p50 2750, p90 3700, p95 3850, p99 3970, max 4000.
Countries: a message with no location of its own takes that of the latest user message of its
conversation at or before it: A2 A3 A5 A6 -> DE, B2 B5 -> US (B5 ties with B4, which comes
first in the input), C2 -> FR. DE 6 (tokens 120+30+50+120 = 320), US 4 (15+10 = 25), FR 2 (40);
known 12 -> shares .5, 1/3, 1/6; unknown 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import invoke, write_jsonl, write_text


def epoch(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    a = {"conversation_id": "A", "bot_id": "support"}
    write_jsonl(
        tmp_path / "day1.jsonl",
        [
            {**a, "timestamp": "2026-11-19T10:00:00Z", "role": "user", "country": "DE"},
            {
                **a,
                "timestamp": "2026-11-19T12:00:02.500+02:00",
                "role": "assistant",
                "status": "delivered",
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "meta": {"nested": {"ignored": [1, 2]}},
            },
            {**a, "timestamp": "2026-11-19T10:00:03Z", "role": "assistant", "total_tokens": 30},
            {**a, "timestamp": "yesterday", "role": "user"},
            {
                **a,
                "timestamp": int(epoch(2026, 11, 19, 10, 1, 0)),
                "role": "human",
                "country": "DE",
            },
            {
                **a,
                "timestamp": "2026-11-19T10:01:01Z",
                "role": "bot",
                "status": "failed",
                "error": True,
                "error_code": "rate_limit",
                "prompt_tokens": "50",
            },
            {
                **a,
                "timestamp": int(epoch(2026, 11, 19, 10, 1, 4) * 1000),
                "role": "assistant",
                "prompt_tokens": 80,
                "completion_tokens": 40,
            },
        ],
    )
    write_text(
        tmp_path / "day1.csv",
        "role,timestamp,conversation_id,country,bot_id\n"
        "user,2026-11-19 23:59:58,B,US,support\n"
        "user,2026-11-19 23:59:59,B\n",
    )
    b = {"conversation_id": "B", "bot_id": "support"}
    c = {"conversation_id": "C", "bot_id": "sales"}
    write_jsonl(
        tmp_path / "day2.jsonl.gz",
        [
            {
                **b,
                "timestamp": "2026-11-20T00:00:01Z",
                "role": "assistant",
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "error_code": "500",
            },
            {**b, "timestamp": "2026-11-20T00:00:02Z", "role": "system", "total_tokens": 999},
            '{"timestamp": "2026-11-20T00:00:02Z", "role": "us',
            {**b, "timestamp": "2026-11-20T00:00:03Z", "role": "user", "country": "us"},
            {
                **b,
                "timestamp": "2026-11-20T00:00:03Z",
                "role": "ai",
                "prompt_tokens": 7,
                "completion_tokens": 3,
            },
            {**c, "timestamp": "2026-11-20 08:00:00", "role": "customer", "country": "FR"},
            {
                **c,
                "timestamp": "2026-11-20T08:00:05Z",
                "role": "assistant",
                "status": "undelivered",
                "error": False,
                "error_code": "503",
                "prompt_tokens": 40,
                "completion_tokens": 0,
            },
        ],
    )
    return tmp_path


def report_json(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(cli, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_message_volume(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs))
    assert doc["messages"] == {"total": 12, "user": 5, "bot_responses": 5, "failed": 2}


def test_tokens_and_errors(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs))
    assert doc["tokens"] == {
        "prompt": 287,
        "completion": 68,
        "total": 385,
        "error": 65,
        "cache_read": 0,
        "cache_write": 0,
    }
    assert doc["errors"]["transactions"] == 2
    assert doc["errors"]["rate"] == 0.285714  # 2 / 7, to 6 significant digits


def test_response_times(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs))
    # Floats are compared to 1e-9 relative: interpolation may differ in the last bit.
    assert doc["response_ms"] == pytest.approx(
        {
            "count": 4,
            "avg": 2375.0,
            "p50": 2750.0,
            "p90": 3700.0,
            "p95": 3850.0,
            "p99": 3970.0,
            "max": 4000.0,
        },
        rel=1e-9,
    )


def test_countries(cli: CliRunner, logs: Path) -> None:
    countries = report_json(cli, str(logs))["countries"]
    # Replies count for the country of the user they answer: DE A2 2500, A6 4000; US B2 3000,
    # B5 0. Bot records take their user's country (see the module doc).
    assert countries["top"] == [
        {
            "country": "DE",
            "name": "Germany",
            "messages": 6,
            "conversations": 1,
            "share": 0.5,
            "users": 0,
            "tokens": 320,
            "avg_response_ms": 3250.0,
        },
        {
            "country": "US",
            "name": "United States",
            "messages": 4,
            "conversations": 1,
            "share": 0.333333,  # 1 / 3, to 6 significant digits
            "users": 0,
            "tokens": 25,
            "avg_response_ms": 1500.0,
        },
        {
            "country": "FR",
            "name": "France",
            "messages": 2,
            "conversations": 1,
            "share": 0.166667,
            "users": 0,
            "tokens": 40,
            "avg_response_ms": None,
        },
    ]
    assert countries["other"]["countries"] == 0
    assert countries["other"]["messages"] == 0
    assert countries["unknown"]["messages"] == 0
    assert countries["unknown"]["reasons"] == {
        "no_ip": 0,
        "private": 0,
        "invalid": 0,
        "not_found": 0,
    }
    assert countries["unknown"]["tokens"] == 0
    assert countries["unknown"]["conversations"] == 0
    top1 = report_json(cli, str(logs), "--top", "1")["countries"]
    assert [row["country"] for row in top1["top"]] == ["DE"]
    assert top1["other"]["countries"] == 2
    assert top1["other"]["messages"] == 6
    assert top1["other"]["share"] == pytest.approx(0.5)
    assert top1["other"]["avg_response_ms"] == 1500.0


def test_input_summary(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs))
    summary = doc["input"]
    assert summary["files"] == 3
    assert summary["records"] == 12
    assert summary["ignored"] == 1
    assert summary["skipped"] == 3
    assert summary["skipped_by_file"] == {
        str(logs / "day1.csv"): 1,
        str(logs / "day1.jsonl"): 1,
        str(logs / "day2.jsonl.gz"): 1,
    }
    assert summary["first_timestamp"] == "2026-11-19T10:00:00Z"
    assert summary["last_timestamp"] == "2026-11-20T08:00:05Z"
    assert sorted(summary["skipped_examples"]) == [
        f"{logs / 'day1.csv'}:3: 3 fields, expected 5",
        f"{logs / 'day1.jsonl'}:4: unreadable timestamp yesterday",
        f"{logs / 'day2.jsonl.gz'}:3: invalid JSON",
    ]


def test_by_day(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs), "--by", "day")
    assert doc["by"] == "day"
    groups = {g["key"]: g for g in doc["groups"]}
    assert list(groups) == ["2026-11-19", "2026-11-20"]
    assert groups["2026-11-19"]["messages"]["total"] == 7
    assert groups["2026-11-20"]["messages"]["total"] == 5
    # B2 replies on the 20th to B1 from the 19th: the reply's day counts.
    assert groups["2026-11-19"]["response_ms"]["count"] == 2
    assert groups["2026-11-19"]["response_ms"]["avg"] == 3250.0
    assert groups["2026-11-20"]["response_ms"]["max"] == 3000.0
    # The overall totals are still there.
    assert doc["messages"]["total"] == 12


def test_by_bot(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs), "--by", "bot_id")
    groups = {g["key"]: g for g in doc["groups"]}
    assert set(groups) == {"sales", "support"}
    assert groups["sales"]["messages"] == {"total": 2, "user": 1, "bot_responses": 0, "failed": 1}
    assert groups["sales"]["response_ms"]["count"] == 0
    assert groups["sales"]["response_ms"]["p50"] is None
    assert groups["sales"]["errors"] == {"transactions": 0, "rate": 0.0}
    assert groups["support"]["tokens"]["error"] == 65


def test_since_until(cli: CliRunner, logs: Path) -> None:
    doc = report_json(cli, str(logs), "--since", "2026-11-20", "--until", "2026-11-20T08:00:05Z")
    # B2, B4, B5, C1 fall in [00:00 on the 20th, 08:00:05); C2 is excluded (until is exclusive).
    assert doc["messages"]["total"] == 4
    assert doc["input"]["since"] == "2026-11-20T00:00:00Z"
    # B2's user message (B1) lies before the range, so B2 is not a timed reply here.
    assert doc["response_ms"]["count"] == 1


def test_timezone_for_naive_timestamps(cli: CliRunner, logs: Path, tmp_path: Path) -> None:
    config = write_text(tmp_path / "cfg" / "botistat.yaml", "timezone: Europe/Paris\n")
    doc = report_json(cli, str(logs), "--config", str(config))
    # B1 (naive 23:59:58) is now 22:59:58Z, so B2 replies 3,603 s later.
    assert doc["response_ms"]["max"] == 3_603_000.0
