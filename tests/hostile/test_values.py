"""Values that must not give a wrong number: costs counted twice, absurd token counts,
impossible costs and latencies. Each expected figure is worked out by hand in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_jsonl, write_text
from tests.hostile.conftest import report_json

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
