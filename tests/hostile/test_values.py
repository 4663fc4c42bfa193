"""Values that must not give a wrong number: costs counted twice, absurd token counts,
impossible costs and latencies. Each expected figure is worked out by hand in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_jsonl, write_text
from tests.hostile.conftest import report_json, run_hostile

#: One LiteLLM call: 10 prompt + 20 completion tokens (5 of the prompt read from cache),
#: a logged cost of $1, answered after 1.5 s.
LITELLM_CALL = {
    "startTime": "2026-11-19T10:00:00Z",
    "endTime": "2026-11-19T10:00:01.500Z",
    "trace_id": "t-1",
    "status": "success",
    "prompt_tokens": 10,
    "completion_tokens": 20,
    "total_tokens": 30,
    "cache_read_input_tokens": 5,
    "model": "gpt-4o",
    "response_cost": 1.0,
}


def _assert_one_call(document: dict[str, Any]) -> None:
    assert document["cost"]["total_usd"] == 1.0
    assert [(m["model"], m["usd"], m["source"]) for m in document["cost"]["by_model"]] == [
        ("gpt-4o", 1.0, "log")
    ]
    assert document["tokens"]["total"] == 30
    assert document["tokens"]["cache_read"] == 5
    assert document["messages"]["total"] == 2
    assert document["response_ms"]["count"] == 1
    assert document["response_ms"]["max"] == 1500.0


@pytest.mark.parametrize(
    "config",
    [
        # The preset maps LiteLLM's response_cost itself.
        "fields:\n  cache_read_tokens: cache_read_input_tokens\n",
        "fields:\n  cost: response_cost\n  cache_read_tokens: cache_read_input_tokens\n",
    ],
)
def test_litellm_cost_and_cache_tokens_counted_once(tmp_path: Path, config: str) -> None:
    log = write_jsonl(tmp_path / "calls.jsonl", [LITELLM_CALL])
    settings = write_text(tmp_path / "botistat.yaml", config)
    document, _ = report_json(str(log), "--preset", "litellm", "-c", str(settings))
    _assert_one_call(document)


def test_exchange_cost_field_counted_once(tmp_path: Path) -> None:
    """``record: exchange`` with the default ``cost`` field: two exchanges of $0.25 and
    $0.50 cost $0.75, not $1.50; the user message of each carries nothing."""
    calls = [
        {"timestamp": "2026-11-19T10:00:00Z", "latency_ms": 800, "model": "m", "cost": 0.25,
         "prompt_tokens": 3, "completion_tokens": 4, "cache_write_tokens": 2},
        {"timestamp": "2026-11-19T10:01:00Z", "latency_ms": 900, "model": "m", "cost": 0.5,
         "prompt_tokens": 5, "completion_tokens": 6, "cache_write_tokens": 1},
    ]  # fmt: skip
    log = write_jsonl(tmp_path / "calls.jsonl", calls)
    settings = write_text(tmp_path / "botistat.yaml", "record: exchange\n")
    document, _ = report_json(str(log), "-c", str(settings))
    assert document["cost"]["total_usd"] == 0.75
    assert document["cost"]["partial"] is False
    assert document["tokens"]["total"] == 3 + 4 + 5 + 6
    assert document["tokens"]["cache_write"] == 3
    assert document["messages"] == {"total": 4, "user": 2, "bot_responses": 2, "failed": 0}
    by_group, _ = report_json(str(log), "-c", str(settings), "--by", "model")
    assert [g["cost"]["total_usd"] for g in by_group["groups"]] == [0.75]


def test_litellm_preset_maps_response_cost(tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "calls.jsonl", [LITELLM_CALL, {**LITELLM_CALL, "response_cost": 0.5}]
    )
    document, _ = report_json(str(log), "--preset", "litellm")
    assert document["cost"]["total_usd"] == 1.5
    assert document["cost"]["by_model"][0]["source"] == "log"


def test_exchange_with_message_id_keeps_query_and_answer_apart(tmp_path: Path) -> None:
    """Merging repeated usage by message id folds repeats of one exchange, never an
    exchange's query into its own answer: "a" logged twice (the usage growing) and "b"."""
    base = {"latency_ms": 800, "model": "m", "prompt_tokens": 3, "completion_tokens": 4}
    calls = [
        {**base, "timestamp": "2026-11-19T10:00:00Z", "id": "a"},
        {**base, "timestamp": "2026-11-19T10:00:00Z", "id": "a", "completion_tokens": 9},
        {**base, "timestamp": "2026-11-19T10:01:00Z", "id": "b", "cost": 0.5},
    ]
    log = write_jsonl(tmp_path / "calls.jsonl", calls)
    settings = write_text(
        tmp_path / "botistat.yaml", "record: exchange\nfields: {message_id: id}\n"
    )
    document, _ = report_json(str(log), "-c", str(settings))
    assert document["messages"] == {"total": 4, "user": 2, "bot_responses": 2, "failed": 0}
    assert document["tokens"]["total"] == (3 + 9) + (3 + 4)
    assert document["response_ms"]["count"] == 2
    assert document["input"]["merged"] == 2  # the query and the answer of the repeat


def _message(second: int, role: str, **values: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2026-11-19T10:00:{second:02d}Z",
        "role": role,
        "conversation_id": "c-1",
        **values,
    }


#: Token counts of every kind; the comment says what each reads as.
ABSURD_TOKENS = [
    _message(0, "user", prompt_tokens=4611686018427387904),  # 2^62: above 1e9, dropped
    _message(1, "bot", prompt_tokens=4611686018427387904, completion_tokens=-5),  # both dropped
    _message(2, "bot", prompt_tokens="1,200", completion_tokens="twelve"),  # 1200; dropped
    _message(3, "bot", prompt_tokens=1e30, completion_tokens=12.0),  # dropped; 12
    _message(4, "bot", prompt_tokens="12", completion_tokens=" 7 ", total_tokens=-1),  # 12, 7; -
    _message(5, "bot", cache_read_tokens=-3, cache_write_tokens="1,000,000,001"),  # both dropped
    _message(6, "bot", prompt_tokens=1_000_000_000, cache_read_tokens=2),  # the cap itself: kept
]


def test_absurd_token_counts_are_dropped_and_counted(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "absurd.jsonl", ABSURD_TOKENS)
    document, stderr = report_json(str(log))
    # Prompt: 1200 + 12 + 10^9; completion: 12 + 7; total: each message's total
    # (total_tokens -1 is dropped, so prompt + completion): 1200 + 12 + 19 + 10^9.
    assert document["tokens"] == {
        "prompt": 1_000_001_212,
        "completion": 19,
        "total": 1_000_001_231,
        "error": 0,
        "cache_read": 2,
        "cache_write": 0,
    }
    summary = document["input"]
    assert summary["records"] == 7  # every record still counts
    assert summary["invalid_values"] == {
        "cache_read_tokens: negative": 1,
        "cache_write_tokens: above 1e9": 1,
        "completion_tokens: negative": 1,
        "completion_tokens: not a number": 1,
        "prompt_tokens: above 1e9": 3,
        "total_tokens: negative": 1,
    }
    assert summary["invalid_examples"][:3] == [
        f"{log}:1: prompt_tokens: above 1e9 (4611686018427387904)",
        f"{log}:2: completion_tokens: negative (-5)",
        f"{log}:2: prompt_tokens: above 1e9 (4611686018427387904)",
    ]
    assert len(summary["invalid_examples"]) == 5
    assert "dropped 8 implausible value(s)" in stderr
    assert "prompt_tokens: above 1e9 (3)" in stderr


def test_absurd_token_counts_agree_with_the_reference(tmp_path: Path) -> None:
    from tests import reference

    log = write_jsonl(tmp_path / "absurd.jsonl", ABSURD_TOKENS)
    document, _ = report_json(str(log))
    records, skipped = reference.load_records([log])
    expected = reference.compute_metrics(records)
    assert skipped == 0
    assert {key: document["tokens"][key] for key in expected["tokens"]} == expected["tokens"]
    assert document["messages"] == expected["messages"]


def test_absurd_token_counts_in_csv(tmp_path: Path) -> None:
    log = write_text(
        tmp_path / "absurd.csv",
        "timestamp,role,prompt_tokens,completion_tokens\n"
        '2026-11-19T10:00:00Z,user,"1,200",\n'
        "2026-11-19T10:00:01Z,bot,-5,99999999999999999999\n"
        "2026-11-19T10:00:02Z,bot,12.0,n/a\n",
    )
    document, _ = report_json(str(log))
    assert (document["tokens"]["prompt"], document["tokens"]["completion"]) == (1212, 0)
    assert document["input"]["invalid_values"] == {
        "completion_tokens: above 1e9": 1,
        "completion_tokens: not a number": 1,
        "prompt_tokens: negative": 1,
    }


def test_a_sum_near_the_int64_limit_does_not_wrap(tmp_path: Path) -> None:
    """Two counts of 2^62 used to sum to -2^63; now each is dropped, and counts at the cap
    add up exactly."""
    log = write_jsonl(
        tmp_path / "big.jsonl",
        [_message(i, "bot", total_tokens=2**62 if i < 2 else 10**9) for i in range(4)],
    )
    document, _ = report_json(str(log))
    assert document["tokens"]["total"] == 2 * 10**9
    assert document["input"]["invalid_values"] == {"total_tokens: above 1e9": 2}


def test_impossible_costs_are_dropped_and_counted(tmp_path: Path) -> None:
    costs: list[Any] = [0.25, -1, "NaN", 2e6, "a dollar", "1e6", " 0.5 ", ""]
    log = write_jsonl(
        tmp_path / "costs.jsonl",
        [_message(i, "bot", model="m", cost=cost) for i, cost in enumerate(costs)],
    )
    document, _ = report_json(str(log))
    # 0.25 + 10^6 (the cap itself) + 0.5; the empty cost is missing, not wrong.
    assert document["cost"]["total_usd"] == 1_000_000.75
    assert document["input"]["invalid_values"] == {
        "cost: above 1e6": 1,
        "cost: negative": 1,
        "cost: not a number": 2,
    }


def test_impossible_response_times_are_dropped_and_counted(tmp_path: Path) -> None:
    start = "2026-11-19T10:00:00Z"
    calls = [
        {"timestamp": start, "latency_ms": 250},  # 250 ms
        {"timestamp": start, "latency_ms": -5},  # dropped: no response time
        {"timestamp": start, "latency_ms": 1e12},  # dropped
        {"timestamp": start, "latency_ms": "soon", "latency_s": 2},  # 2000 ms from latency_s
        {"timestamp": start, "latency_s": 90000},  # 25 h: dropped
        # Answered before it was asked: end_time is dropped, latency_ms is used.
        {"timestamp": start, "end_time": "2026-11-19T09:59:00Z", "latency_ms": 400},
        {"timestamp": start, "end_time": "2026-11-21T10:00:00Z"},  # two days later: dropped
        {"timestamp": start, "end_time": "tomorrow"},  # dropped
    ]
    log = write_jsonl(tmp_path / "calls.jsonl", calls)
    settings = write_text(tmp_path / "botistat.yaml", "record: exchange\n")
    document, _ = report_json(str(log), "-c", str(settings))
    assert document["response_ms"]["count"] == 3
    assert document["response_ms"]["avg"] == 883.333  # (250 + 2000 + 400) / 3, to 3 decimals
    assert document["messages"]["total"] == 16  # every exchange still counts
    assert document["input"]["invalid_values"] == {
        "end_time: before timestamp": 1,
        "end_time: more than 24h after timestamp": 1,
        "end_time: not a timestamp": 1,
        "latency_ms: above 24h": 1,
        "latency_ms: negative": 1,
        "latency_ms: not a number": 1,
        "latency_s: above 24h": 1,
    }
    # The answer of a dropped response time is at the start: it never lands days later.
    assert document["input"]["last_timestamp"] == "2026-11-19T10:00:02Z"


def test_strict_makes_an_implausible_value_an_error(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "absurd.jsonl", [_message(0, "user"), *ABSURD_TOKENS])
    result = run_hostile("report", str(log), "--strict", "-f", "json")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines[0] == (
        f"botistat: error: invalid value: prompt_tokens is above 1e9: 4611686018427387904 ({log}:2)"
    )
    assert lines[1].startswith("  hint: without --strict")
    assert result.stdout == b""
