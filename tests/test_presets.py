"""Presets, exchange-shaped records and ``inspect``, against numbers worked out by hand.

The fixtures (tests/fixtures/presets/) were written from each format's documentation.

openai.jsonl: 4 chat completions; the third is an error object (rate limit): exchanges 4,
messages 8, user 4, bot responses 3, failed 1; prompt 100+200+300 = 600, completion
20+50+100 = 170, total 770; the failed one has no usage, so error tokens 0; no latency in the
format, so no response times.
litellm.jsonl: 4 calls; the third has status "failure" with 50 prompt tokens: prompt 430,
completion 70, total 500, error tokens 50; response times end - start: 1500, 2250, 750 ms
(the failed call has none): avg 1500, p50 1500, max 2250.
langfuse.jsonl: 4 generations; level ERROR on the third (900 tokens): prompt 1800, completion
170, total 1970, error tokens 900; response times: 1200 ms from end - start, 800 ms from the
latency in seconds (no endTime), none for the failed one and none for the fourth (neither).
nested-messages.jsonl: message-shaped, usage under "meta"; a system message is ignored:
messages 4, prompt 150, completion 50; replies 2000 and 3000 ms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, invoke, write_jsonl, write_text

FIXTURES = ROOT / "tests" / "fixtures" / "presets"

EXPECTED: dict[str, dict[str, Any]] = {
    "openai": {
        "messages": {"total": 8, "user": 4, "bot_responses": 3, "failed": 1},
        "tokens": {"prompt": 600, "completion": 170, "total": 770, "error": 0},
        "errors": {"transactions": 1, "rate": 0.25},
        "replies": [],
    },
    "litellm": {
        "messages": {"total": 8, "user": 4, "bot_responses": 3, "failed": 1},
        "tokens": {"prompt": 430, "completion": 70, "total": 500, "error": 50},
        "errors": {"transactions": 1, "rate": 0.25},
        "replies": [750.0, 1500.0, 2250.0],
    },
    "langfuse": {
        "messages": {"total": 8, "user": 4, "bot_responses": 3, "failed": 1},
        "tokens": {"prompt": 1800, "completion": 170, "total": 1970, "error": 900},
        "errors": {"transactions": 1, "rate": 0.25},
        "replies": [800.0, 1200.0],
    },
    "nested-messages": {
        "messages": {"total": 4, "user": 2, "bot_responses": 2, "failed": 0},
        "tokens": {"prompt": 150, "completion": 50, "total": 200, "error": 0},
        "errors": {"transactions": 0, "rate": 0.0},
        "replies": [2000.0, 3000.0],
    },
}


def report(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(cli, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_on_its_fixture(cli: CliRunner, name: str) -> None:
    doc = report(cli, str(FIXTURES / f"{name}.jsonl"), "--preset", name)
    expected = EXPECTED[name]
    assert doc["messages"] == expected["messages"]
    assert doc["tokens"] == {**expected["tokens"], "cache_read": 0, "cache_write": 0}
    assert doc["errors"] == expected["errors"]
    replies = expected["replies"]
    assert doc["response_ms"]["count"] == len(replies)
    if replies:
        assert doc["response_ms"]["avg"] == pytest.approx(sum(replies) / len(replies))
        assert doc["response_ms"]["max"] == max(replies)
    shape = "message" if name == "nested-messages" else "exchange"
    assert doc["input"]["shapes"][shape] == (5 if shape == "message" else 4)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_report_is_the_same_when_spilled(cli: CliRunner, name: str) -> None:
    # Exchange-shaped records carry their latency into the partitions; messages do not.
    fixture = str(FIXTURES / f"{name}.jsonl")
    spilled = report(cli, fixture, "--preset", name, "--memory-budget", "4k")
    # Sums of dollars may differ in their last bits: the partitions add up in another order.
    assert rounded(spilled) == rounded(report(cli, fixture, "--preset", name))


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def test_litellm_details(cli: CliRunner) -> None:
    doc = report(cli, str(FIXTURES / "litellm.jsonl"), "--preset", "litellm", "--by", "bot_id")
    groups = {g["key"]: g for g in doc["groups"]}
    # The team alias is the bot: support has 3 calls (one failed), sales 1.
    assert groups["support"]["messages"]["bot_responses"] == 2
    assert groups["sales"]["tokens"]["total"] == 90
    assert doc["response_ms"]["p50"] == 1500.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_suggests_a_mapping_that_reads_like_the_preset(
    cli: CliRunner, tmp_path: Path, name: str
) -> None:
    fixture = str(FIXTURES / f"{name}.jsonl")
    suggested = invoke(cli, "inspect", fixture)
    assert suggested.exit_code == 0, suggested.stderr
    config = write_text(tmp_path / "botistat.yaml", suggested.stdout)
    suggested_report = report(cli, fixture, "-c", str(config))
    preset_report = report(cli, fixture, "--preset", name)
    if name == "litellm":
        # The preset reads the logged response_cost; inspect does not suggest a cost field yet.
        assert preset_report.pop("cost")["by_model"][0]["source"] == "log"
        suggested_report.pop("cost")
    assert suggested_report == preset_report


def test_inspect_on_the_sample_logs_gives_the_default_report(
    cli: CliRunner, tmp_path: Path
) -> None:
    for log in sorted((ROOT / "sample_logs").rglob("*.*"))[:3]:
        suggested = invoke(cli, "inspect", str(log))
        assert suggested.exit_code == 0, suggested.stderr
        assert "record: message" in suggested.stdout
        config = write_text(tmp_path / "botistat.yaml", suggested.stdout)
        assert report(cli, str(log), "-c", str(config)) == report(cli, str(log))


def test_inspect_reads_only_the_start_of_a_file(cli: CliRunner, tmp_path: Path) -> None:
    """A compressed log without a telling name, damaged far past the records inspect samples:
    the sample is read as a stream, so the damage is never reached."""
    import gzip

    lines = (FIXTURES / "nested-messages.jsonl").read_bytes() * 2000
    packed = gzip.compress(lines)
    log = tmp_path / "export.log"
    log.write_bytes(packed[: len(packed) - 100])
    suggested = invoke(cli, "inspect", str(log))
    assert suggested.exit_code == 0, suggested.stderr
    assert "records sampled" in suggested.stdout
    assert "prompt_tokens: meta.tokensIn" in suggested.stdout


def test_presets_are_listed(cli: CliRunner) -> None:
    result = invoke(cli, "presets")
    for name in EXPECTED:
        assert result.stdout.count(f"{name}  (") == 1


def exchange(at: int, **fields: Any) -> dict[str, Any]:
    return {"start": at, "conversation": f"c{at}", **fields}


def test_exchange_latencies_in_ms_and_seconds(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "gateway.jsonl",
        [
            exchange(1_795_003_200, took_ms=1200, tin=10, tout=5),
            exchange(1_795_003_210, took_s=0.5, tin=20, tout=5),
            exchange(1_795_003_220, done=1_795_003_222.25, tin=30, tout=5),
            exchange(1_795_003_230, tin=40, tout=5),  # no latency at all
            exchange(1_795_003_240, took_ms=900, state="failed", tin=50, tout=0),
        ],
    )
    config = write_text(
        tmp_path / "c.yaml",
        "record: exchange\n"
        "fields:\n  timestamp: start\n  end_time: done\n  latency_ms: took_ms\n"
        "  latency_s: took_s\n  conversation_id: conversation\n  status: state\n"
        "  prompt_tokens: tin\n  completion_tokens: tout\n",
    )
    doc = report(cli, str(log), "-c", str(config))
    assert doc["messages"] == {"total": 10, "user": 5, "bot_responses": 4, "failed": 1}
    # 1200 ms, 500 ms (0.5 s), 2250 ms (end - start); none for no latency or for the failure.
    assert doc["response_ms"]["count"] == 3
    assert doc["response_ms"]["avg"] == pytest.approx((1200 + 500 + 2250) / 3)
    assert doc["tokens"]["error"] == 50
    assert doc["errors"] == {"transactions": 1, "rate": 0.2}


def test_sources_mix_shapes_in_one_run(cli: CliRunner, tmp_path: Path) -> None:
    messages = tmp_path / "app" / "chat.jsonl"
    gateway = tmp_path / "gateway" / "calls.jsonl"
    messages.parent.mkdir()
    gateway.parent.mkdir()
    messages.write_text((FIXTURES / "nested-messages.jsonl").read_text())
    gateway.write_text((FIXTURES / "litellm.jsonl").read_text())
    config = write_text(
        tmp_path / "c.yaml",
        "preset: nested-messages\nsources:\n  - glob: '*/gateway/*.jsonl'\n    preset: litellm\n",
    )
    doc = report(cli, str(tmp_path), "-c", str(config))
    assert doc["input"]["shapes"] == {"message": 5, "exchange": 4}
    # 4 messages + 8 from the exchanges; tokens 200 + 500.
    assert doc["messages"]["total"] == 12
    assert doc["tokens"]["total"] == 700
    assert doc["response_ms"]["count"] == 2 + 3


def test_unknown_preset(cli: CliRunner) -> None:
    result = invoke(cli, "report", str(FIXTURES / "openai.jsonl"), "--preset", "openia")
    assert result.exit_code == 2
    assert "unknown preset 'openia'" in result.stderr
