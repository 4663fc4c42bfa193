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
170, total 1970, error tokens 900; response times: 1200 ms from end - start, and none for the
second (no endTime: its latency is not read, being seconds in the API and milliseconds in
exports), none for the failed one and none for the fourth (neither).
nested-messages.jsonl: message-shaped, usage under "meta"; a system message is ignored:
messages 4, prompt 150, completion 50; replies 2000 and 3000 ms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, invoke, rounded, write_jsonl, write_text

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
        "replies": [1200.0],
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
    spilled = report(cli, fixture, "--preset", name, "--partitions", "4")
    # Sums of dollars may differ in their last bits: the partitions add up in another order.
    assert rounded(spilled) == rounded(report(cli, fixture, "--preset", name))


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
    # A known format gets its preset.
    assert suggested.stdout.endswith(f"\npreset: {name}\n")
    suggested_report = report(cli, fixture, "-c", str(config))
    assert suggested_report == report(cli, fixture, "--preset", name)


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
    assert "# meta.tokensIn " in suggested.stdout
    assert suggested.stdout.endswith("\npreset: nested-messages\n")


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


# --- claude-code --------------------------------------------------------------------------

CLAUDE = FIXTURES / "claude-code"
SESSION = "3f1c2a9e-7b4d-4e21-9c0a-5d8e6f1b2a34"
#: Prices per 1M tokens for exact costs, whatever the installed price table says.
CLAUDE_PRICES = (
    "prices:\n"
    "  claude-sonnet-4-5-20250929: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n"
    "  claude-haiku-4-5-20251001: {input: 1, output: 5, cache_read: 0.1, cache_write: 1.25}\n"
)


def claude_projects(root: Path) -> Path:
    """A ~/.claude/projects folder as Claude Code writes it (lines from the research notes):
    a session file, its sub-agent's file under <session>/subagents/, and a file of session
    summaries only.

    session.jsonl, 17 lines: a summary, a file-history-snapshot, 2 system, 1 progress, 1
    queue-operation and 2 bookkeeping lines (ai-title, last-prompt; the last three without a
    timestamp): 8 ignored. Messages: 4 user lines (the prompt at 02:40:10.118, a tool result
    at :23.702, "ok fix it" at 02:52:02.331, an isMeta /clear at 02:52:40) and 5 assistant
    lines: msg_01Hq streamed as 3 lines (output_tokens 2, 2, 289; input 3, cache write 2285,
    cache read 22137 on each) from 02:40:21.204, msg_01Nt (6 / 41, write 512, read 24422) at
    02:40:31.877, and the synthetic API error (isApiErrorMessage, model <synthetic>, zero usage)
    at 02:52:03.004.
    subagent.jsonl (the parent's sessionId): a user prompt at 02:41:00.500 and a reply at
    :02.118 (haiku, 812 / 57, read 11904, write 0).
    summary-only: 2 summary lines, ignored.

    So: 5 user + 4 bot messages = 9 (the streamed lines merged into one: merged 2); the error
    line is a failed bot message and an API error: bot_responses 3, failed 1, errors 1 of 4
    bot records. Tokens, with the final usage of msg_01Hq (289, not 2 + 2 + 289 nor 2):
    prompt 3 + 6 + 0 + 812 = 821, completion 289 + 41 + 0 + 57 = 387, total 1208, cache read
    22137 + 24422 + 11904 = 58463, cache write 2285 + 512 = 2797. Replies (one conversation,
    sub-agent lines in it): 02:40:21.204 - 10.118 = 11086 ms, 31.877 - 23.702 = 8175 ms,
    02:41:02.118 - 00.500 = 1618 ms; the error is no reply. Cost at CLAUDE_PRICES: sonnet
    (9 x 3 + 330 x 15 + 46559 x 0.3 + 2797 x 3.75) / 1M = $0.02943345, haiku (812 + 57 x 5 +
    11904 x 0.1) / 1M = $0.0022874; <synthetic> has no tokens: neither priced nor unpriced.
    """
    project = root / "projects" / "-Users-ana-src-shop-api"
    files = {
        project / f"{SESSION}.jsonl": CLAUDE / "session.jsonl",
        project / SESSION / "subagents" / "agent-a3f9c21.jsonl": CLAUDE / "subagent.jsonl",
        project / "0a9a8045-53e9-44b1-83fb-aafc6e1f4f0b.jsonl": CLAUDE / "summary-only.jsonl",
    }
    for target, source in files.items():
        write_text(target, source.read_text())
    return root / "projects"


CLAUDE_MESSAGES = {"total": 9, "user": 5, "bot_responses": 3, "failed": 1}
CLAUDE_TOKENS = {
    "prompt": 821,
    "completion": 387,
    "total": 1208,
    "error": 0,
    "cache_read": 58463,
    "cache_write": 2797,
}


def test_claude_code_projects_folder(cli: CliRunner, tmp_path: Path) -> None:
    config = write_text(tmp_path / "c.yaml", CLAUDE_PRICES)
    doc = report(cli, str(claude_projects(tmp_path)), "--preset", "claude-code", "-c", str(config))
    assert doc["messages"] == CLAUDE_MESSAGES
    assert doc["tokens"] == CLAUDE_TOKENS
    assert doc["errors"] == {"transactions": 1, "rate": 0.25}
    summary = doc["input"]
    assert (summary["files"], summary["records"], summary["ignored"]) == (3, 9, 10)
    assert (summary["skipped"], summary["merged"], summary["skipped_files"]) == (0, 2, [])
    assert summary["preset"] == "claude-code"
    assert summary["preset_detected_from"] is None
    replies = doc["response_ms"]
    assert replies["count"] == 3
    assert replies["avg"] == pytest.approx((11086 + 8175 + 1618) / 3)
    assert (replies["p50"], replies["max"]) == (8175.0, 11086.0)
    cost = doc["cost"]
    assert cost["total_usd"] == pytest.approx(0.02943345 + 0.0022874)
    assert cost["partial"] is False
    assert cost["unpriced_models"] == []
    assert {(m["model"], m["records"]) for m in cost["by_model"]} == {
        ("claude-sonnet-4-5-20250929", 2),
        ("claude-haiku-4-5-20251001", 1),
    }


def test_claude_code_synthetic_model_costs_nothing_and_is_not_unpriced(
    cli: CliRunner, tmp_path: Path
) -> None:
    # The price table knows no <synthetic>: were its zero-usage error lines counted as
    # usage, the total would be partial and <synthetic> listed as unpriced.
    doc = report(cli, str(claude_projects(tmp_path)), "--preset", "claude-code", "--by", "model")
    assert doc["cost"]["partial"] is False
    assert doc["cost"]["unpriced_models"] == []
    groups = {group["key"]: group for group in doc["groups"]}
    synthetic = groups["<synthetic>"]
    assert synthetic["messages"] == {"total": 1, "user": 0, "bot_responses": 0, "failed": 1}
    assert synthetic["errors"] == {"transactions": 1, "rate": 1.0}
    assert synthetic["cost"]["total_usd"] == 0
    assert synthetic["cost"]["partial"] is False


def test_claude_code_spilled_is_the_same(cli: CliRunner, tmp_path: Path) -> None:
    projects = str(claude_projects(tmp_path))
    in_memory = report(cli, projects, "--preset", "claude-code")
    spilled = report(cli, projects, "--preset", "claude-code", "--partitions", "4")
    assert rounded(spilled) == rounded(in_memory)


def claude_lines(**changes: Any) -> list[dict[str, Any]]:
    """The session's prompt and the three streamed lines of msg_01Hq, with ``changes``."""
    lines = [json.loads(line) for line in (CLAUDE / "session.jsonl").read_text().splitlines()]
    return [{**line, **changes} for line in lines[2:6]]


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def test_claude_code_merges_on_the_message_id_alone_without_a_request_id(
    cli: CliRunner, tmp_path: Path
) -> None:
    """Sub-agent paths and third-party endpoints write no requestId: the message id alone
    folds the streamed lines, keeping the final usage."""
    log = write_jsonl(tmp_path / "s.jsonl", [without(r, "requestId") for r in claude_lines()])
    doc = report(cli, str(log), "--preset", "claude-code")
    assert doc["input"]["merged"] == 2
    assert doc["messages"] == {"total": 2, "user": 1, "bot_responses": 1, "failed": 0}
    assert doc["tokens"]["completion"] == 289
    assert doc["tokens"]["prompt"] == 3
    assert doc["tokens"]["cache_read"] == 22137


def test_claude_code_keeps_responses_apart_that_share_only_part_of_the_id(
    cli: CliRunner, tmp_path: Path
) -> None:
    """The same message id under another request id (a replay), or in another session (a
    gateway reusing ids), is another response: nothing merges across them."""
    first, *streamed = claude_lines()
    replayed = [{**line, "requestId": "req_replay"} for line in streamed]
    elsewhere = [{**without(line, "requestId"), "sessionId": "other-session"} for line in streamed]
    alone = [without(line, "requestId") for line in streamed]
    log = write_jsonl(tmp_path / "s.jsonl", [first, *streamed, *replayed, *alone, *elsewhere])
    doc = report(cli, str(log), "--preset", "claude-code")
    # Four responses of three lines each: 8 lines folded; each counts 289 output tokens once.
    assert doc["input"]["merged"] == 8
    assert doc["messages"]["bot_responses"] == 4
    assert doc["tokens"]["completion"] == 4 * 289


def test_claude_code_api_error_flag_is_read_as_a_boolean(cli: CliRunner, tmp_path: Path) -> None:
    first, *streamed = claude_lines()
    fine = [{**line, "isApiErrorMessage": False} for line in streamed]
    error = json.loads((CLAUDE / "session.jsonl").read_text().splitlines()[12])
    assert error["isApiErrorMessage"] is True
    log = write_jsonl(tmp_path / "s.jsonl", [first, *fine, error])
    doc = report(cli, str(log), "--preset", "claude-code")
    # false is no error; true is one, and a failed bot message.
    assert doc["errors"] == {"transactions": 1, "rate": 0.5}
    assert doc["messages"] == {"total": 3, "user": 1, "bot_responses": 1, "failed": 1}


def test_claude_code_legacy_cost_is_read_from_the_log(cli: CliRunner) -> None:
    doc = report(cli, str(CLAUDE / "legacy-costusd.jsonl"), "--preset", "claude-code")
    assert doc["cost"]["by_model"] == [
        {"model": "claude-opus-4-20250514", "usd": 0.1441, "records": 1, "source": "log"}
    ]
    assert doc["tokens"]["cache_read"] == 89356


def test_claude_code_summary_only_file_is_read_not_skipped(cli: CliRunner) -> None:
    result = invoke(
        cli, "report", str(CLAUDE / "summary-only.jsonl"), "--preset", "claude-code", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["input"]
    assert (summary["records"], summary["ignored"], summary["skipped"]) == (0, 2, 0)
    assert summary["skipped_files"] == []
    assert "no records found" in result.stderr


# --- openai-batch -------------------------------------------------------------------------

BATCH = FIXTURES / "openai-batch"


def test_openai_batch_output_and_error_files(cli: CliRunner) -> None:
    """output.jsonl: 3 requests (prompt 412 + 1536 + 388 = 2336, completion 11 + 10 + 1024 =
    1045, total 423 + 1546 + 1412 = 3381), each an exchange: 3 queries and 3 answers, no
    response time (the format has none). errors.jsonl: a 400 (context length) and two
    requests never run (batch_expired, batch_cancelled): no line carries a time, so each is a
    skipped line with its own reason, and the file is no skipped file."""
    doc = report(cli, str(BATCH), "--preset", "openai-batch")
    assert doc["messages"] == {"total": 6, "user": 3, "bot_responses": 3, "failed": 0}
    assert doc["tokens"] == {
        "prompt": 2336,
        "completion": 1045,
        "total": 3381,
        "error": 0,
        "cache_read": 0,
        "cache_write": 0,
    }
    assert doc["response_ms"]["count"] == 0
    summary = doc["input"]
    assert summary["shapes"] == {"message": 0, "exchange": 3}
    assert summary["skipped_by_file"] == {str(BATCH / "errors.jsonl"): 3}
    assert summary["skipped_examples"] == [
        f"{BATCH / 'errors.jsonl'}:{line}: API error without a timestamp" for line in (1, 2, 3)
    ]
    assert summary["skipped_files"] == []
    assert summary["first_timestamp"] == "2025-08-15T06:42:10Z"
    assert {m["model"] for m in doc["cost"]["by_model"] + doc["cost"]["unpriced_models"]} == {
        "gpt-4o-mini-2024-07-18",
        "o4-mini-2025-04-16",
    }


def test_openai_batch_error_file_alone(cli: CliRunner) -> None:
    result = invoke(cli, "report", str(BATCH / "errors.jsonl"), "--preset", "openai-batch")
    assert result.exit_code == 0, result.stderr
    assert "skipped 3 malformed line(s)" in result.stderr
    strict = invoke(
        cli, "report", str(BATCH / "errors.jsonl"), "--preset", "openai-batch", "--strict"
    )
    assert strict.exit_code == 2
    assert "malformed line: API error without a timestamp" in strict.stderr


def test_a_record_without_a_timestamp_and_without_an_error_is_still_malformed(
    cli: CliRunner, tmp_path: Path
) -> None:
    log = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"custom_id": "a", "response": None, "error": None},
            {"custom_id": "b", "response": None, "error": {"code": "batch_expired"}},
            *(json.loads(line) for line in (BATCH / "output.jsonl").read_text().splitlines()),
        ],
    )
    doc = report(cli, str(log), "--preset", "openai-batch")
    assert doc["input"]["skipped_examples"] == [
        f"{log}:1: missing timestamp",
        f"{log}:2: API error without a timestamp",
    ]


# --- litellm spend logs, langfuse exports -------------------------------------------------


def test_litellm_spend_log_rows(cli: CliRunner) -> None:
    """3 rows: two successes (1337 / 64 / 1401 and 402 / 35 / 437 tokens, spend $0.00016215
    and $0.0000611, 1484 and 1112 ms from startTime to endTime) and a timeout (status
    failure, 0 tokens, spend 0): queries 3, answers 2, failed 1; the conversation is the
    session_id (a uuid of its own on the second row)."""
    doc = report(cli, str(FIXTURES / "litellm-spendlogs.jsonl"), "--preset", "litellm-spendlogs")
    assert doc["messages"] == {"total": 6, "user": 3, "bot_responses": 2, "failed": 1}
    assert doc["tokens"]["prompt"] == 1739
    assert doc["tokens"]["completion"] == 99
    assert doc["tokens"]["total"] == 1838
    assert doc["errors"] == {"transactions": 1, "rate": pytest.approx(1 / 3)}
    assert doc["response_ms"]["count"] == 2
    assert doc["response_ms"]["avg"] == pytest.approx((1484 + 1112) / 2)
    assert doc["cost"]["total_usd"] == pytest.approx(0.00016215 + 0.0000611)
    assert {m["source"] for m in doc["cost"]["by_model"]} == {"log"}
    # 203.0.113.24 is a documentation address: every message is of unknown country.
    assert doc["countries"]["unknown"]["conversations"] == 3


def test_langfuse_export_latency_is_not_read_as_seconds(cli: CliRunner, tmp_path: Path) -> None:
    """An export's latency is in milliseconds (1484 for the answer of 1.484 s): the reply
    time comes from endTime - startTime, and without an endTime there is none (read as
    seconds, 1484 would be a reply of 25 minutes)."""
    rows = [
        json.loads(line) for line in (FIXTURES / "langfuse-export.jsonl").read_text().splitlines()
    ]
    log = write_jsonl(tmp_path / "export.jsonl", rows)
    doc = report(cli, str(log), "--preset", "langfuse")
    assert doc["response_ms"]["count"] == 1
    assert doc["response_ms"]["max"] == 1484.0
    assert doc["errors"]["transactions"] == 1
    assert doc["cost"]["by_model"][0]["source"] == "log"
    no_end = write_jsonl(tmp_path / "no-end.jsonl", [{**rows[0], "endTime": None}])
    assert report(cli, str(no_end), "--preset", "langfuse")["response_ms"]["count"] == 0


def test_presets_list_shows_a_composite_message_id_and_limits(cli: CliRunner) -> None:
    result = invoke(cli, "presets")
    assert "message_id <- [message.id, requestId, sessionId]" in result.stdout
    assert "message_id_2" not in result.stdout
    assert "  limits: no latency in the format, so no response times" in result.stdout


def test_a_config_message_id_replaces_the_presets_whole(cli: CliRunner, tmp_path: Path) -> None:
    # Two lines of one message under two request ids: with the preset's requestId (and
    # sessionId) still joined to the config's id, they would not merge.
    first, *streamed = claude_lines()
    lines = [first, {**streamed[0], "requestId": "r1"}, {**streamed[2], "requestId": "r2"}]
    log = write_jsonl(tmp_path / "s.jsonl", lines)
    assert report(cli, str(log), "--preset", "claude-code")["input"]["merged"] == 0
    config = write_text(
        tmp_path / "c.yaml", "preset: claude-code\nfields: {message_id: message.id}\n"
    )
    assert report(cli, str(log), "-c", str(config))["input"]["merged"] == 1
