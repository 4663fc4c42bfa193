"""Cost, cache tokens and repeated usage, on a hand-worked streaming log.

tests/fixtures/cost/stream.jsonl, with stream.yaml (message id = message.id + requestId):
- c1: the user at 10:00:00; the reply m1 is logged three times (10:00:02, :03, :04) with
  usage growing from 10 to 40 output tokens, 100 input and 1000 cache-read each time: one
  message at 10:00:02 with 100 / 40 / 1000 (the largest of each); reply time 2000 ms.
- c2: the user at 10:01:00; m2 logged twice, identical (50 / 5), model "mystery-model" that
  has no price anywhere; reply time 5000 ms.
- c3: the user at 10:02:00; one reply at 10:02:01 with no message id, 1000 / 1000 tokens and
  a logged cost of $0.50; reply time 1000 ms.
Messages 6 (3 users, 3 replies); merged 3 (2 + 1 repeats). Tokens: prompt 100+50+1000 = 1150,
completion 40+5+1000 = 1045, total 2195, cache read 1000.
Cost: m1 from the config's claude-test prices ($3 in, $15 out, $0.30 cache read per 1M):
(100 x 3 + 40 x 15 + 1000 x 0.3) / 1M = $0.0012; the c3 reply from the log: $0.50; so
claude-test $0.5012, and the total is partial: mystery-model has 55 unpriced tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, invoke, run_botistat, write_jsonl, write_text

FIXTURE = ROOT / "tests" / "fixtures" / "cost"
LOG = str(FIXTURE / "stream.jsonl")
CONFIG = str(FIXTURE / "stream.yaml")


def report(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(cli, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_repeated_usage_is_counted_once(cli: CliRunner) -> None:
    doc = report(cli, LOG, "-c", CONFIG)
    assert doc["input"]["merged"] == 3
    assert doc["messages"] == {"total": 6, "user": 3, "bot_responses": 3, "failed": 0}
    assert doc["tokens"] == {
        "prompt": 1150,
        "completion": 1045,
        "total": 2195,
        "error": 0,
        "cache_read": 1000,
        "cache_write": 0,
    }
    assert doc["response_ms"]["count"] == 3
    assert doc["response_ms"]["avg"] == pytest.approx((2000 + 5000 + 1000) / 3)


def test_repeated_usage_merged_the_same_when_spilled(cli: CliRunner) -> None:
    # Spilled, the message id is read and written to the partitions; in memory, not.
    assert report(cli, LOG, "-c", CONFIG, "--partitions", "4") == report(cli, LOG, "-c", CONFIG)


def test_without_a_message_id_nothing_is_merged(cli: CliRunner, tmp_path: Path) -> None:
    text = Path(CONFIG).read_text().replace("  message_id: [message.id, requestId]\n", "")
    config = write_text(tmp_path / "c.yaml", text)
    doc = report(cli, LOG, "-c", str(config))
    assert doc["input"]["merged"] == 0
    assert doc["messages"]["total"] == 9
    # Every repeated line counts: 100+100+100+50+50+1000 and 10+40+40+5+5+1000.
    assert doc["tokens"]["prompt"] == 1400
    assert doc["tokens"]["completion"] == 1100


def test_cost_from_log_and_config_and_unpriced(cli: CliRunner) -> None:
    cost = report(cli, LOG, "-c", CONFIG)["cost"]
    assert cost["total_usd"] == pytest.approx(0.5012)
    assert cost["partial"] is True
    assert cost["by_model"] == [
        {"model": "claude-test", "usd": pytest.approx(0.5012), "records": 2, "source": "log+config"}
    ]
    assert cost["unpriced_models"] == [
        {
            "model": "mystery-model",
            "records": 1,
            "tokens": {
                "prompt": 50,
                "completion": 5,
                "total": 55,
                "cache_read": 0,
                "cache_write": 0,
            },
        }
    ]
    assert "1 price(s) from the config" in cost["source"]


def test_cost_by_model_group(cli: CliRunner) -> None:
    doc = report(cli, LOG, "-c", CONFIG, "--by", "model")
    groups = {g["key"]: g for g in doc["groups"]}
    assert groups["claude-test"]["cost"]["total_usd"] == pytest.approx(0.5012)
    assert groups["claude-test"]["cost"]["partial"] is False
    assert groups["mystery-model"]["cost"]["total_usd"] == 0.0
    assert groups["mystery-model"]["cost"]["partial"] is True


def test_prices_from_genai_prices_and_overrides(cli: CliRunner, tmp_path: Path) -> None:
    from genai_prices import Usage, calc_price

    log = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"timestamp": "2026-11-18T10:00:00Z", "role": "user", "conversation_id": "x"},
            {
                "timestamp": "2026-11-18T10:00:01Z",
                "role": "bot",
                "conversation_id": "x",
                "model": "gpt-4o",
                "prompt_tokens": 1000,
                "completion_tokens": 100,
            },
        ],
    )
    expected = float(
        calc_price(Usage(input_tokens=1000, output_tokens=100), model_ref="gpt-4o").total_price
    )
    cost = report(cli, str(log))["cost"]
    assert cost["by_model"][0]["source"] == "genai-prices"
    assert cost["total_usd"] == pytest.approx(expected)
    assert cost["partial"] is False
    override = write_text(tmp_path / "c.yaml", "prices:\n  'gpt-4*': {input: 1, output: 2}\n")
    cost = report(cli, str(log), "-c", str(override))["cost"]
    assert cost["by_model"][0]["source"] == "config"
    assert cost["total_usd"] == pytest.approx((1000 * 1 + 100 * 2) / 1e6)


def test_cost_thresholds() -> None:
    over = run_botistat("check", LOG, "-c", CONFIG, "-t", "cost.total_usd < 0.1")
    assert over.returncode == 1
    assert b"cost.total_usd < 0.1" in over.stdout
    under = run_botistat("check", LOG, "-c", CONFIG, "-t", "cost.total_usd < 1")
    assert under.returncode == 0, under.stderr


def test_bad_prices_config(cli: CliRunner, tmp_path: Path) -> None:
    config = write_text(tmp_path / "c.yaml", "prices:\n  m: {input: 1}\n")
    result = invoke(cli, "report", LOG, "-c", str(config))
    assert result.exit_code == 2
    assert "prices.m needs output" in result.stderr
