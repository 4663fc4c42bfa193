"""Files that must not sink a run: records that are no messages, files of another kind in a
log directory, files cut short, binary files. Real files, real subprocesses."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_jsonl, write_text
from tests.hostile.conftest import assert_accounted, nonblank_lines, report_json

#: Claude Code sessions: the record kind is in ``type``; summaries have no timestamp.
SESSION_CONFIG = "fields:\n  role: type\n  conversation_id: sessionId\n"
SUMMARY = {"type": "summary", "summary": "Fixing the build", "leafUuid": "u-0"}


def _session(moment: str, kind: str) -> dict[str, str]:
    return {"type": kind, "timestamp": f"2026-11-19T10:00:{moment}Z", "sessionId": "s-1"}


def test_records_that_are_no_messages_are_ignored_even_without_timestamp(tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "session.jsonl",
        [
            SUMMARY,  # ignored, without a timestamp
            _session("01", "user"),
            _session("03", "assistant"),
            _session("04", "system"),  # ignored, with a timestamp
            "not json",  # skipped
            {"type": "user", "sessionId": "s-1"},  # a message without timestamp: skipped
        ],
    )
    config = write_text(tmp_path / "botistat.yaml", SESSION_CONFIG)
    document, stderr = report_json(str(log), "-c", str(config))
    summary = document["input"]
    assert (summary["records"], summary["ignored"], summary["skipped"]) == (2, 2, 2)
    assert_accounted(document, nonblank_lines(log))
    assert document["messages"]["total"] == 2
    assert document["response_ms"]["max"] == 2000.0
    assert summary["first_timestamp"] == "2026-11-19T10:00:01Z"
    assert summary["last_timestamp"] == "2026-11-19T10:00:03Z"
    assert sorted(summary["skipped_examples"]) == [
        f"{log}:5: invalid JSON",
        f"{log}:6: missing timestamp",
    ]
    assert "skipped 2 malformed line(s)" in stderr


def test_ignored_records_count_whatever_the_time_range(tmp_path: Path) -> None:
    """``input.ignored`` counts every record that is no message (one without a timestamp
    cannot be placed in a range); ``input.records`` only the messages in the range."""
    log = write_jsonl(
        tmp_path / "session.jsonl",
        [SUMMARY, _session("01", "user"), _session("02", "system"), _session("30", "assistant")],
    )
    config = write_text(tmp_path / "botistat.yaml", SESSION_CONFIG)
    document, _ = report_json(
        str(log), "-c", str(config), "--since", "2026-11-19T10:00:00Z",
        "--until", "2026-11-19T10:00:10Z",
    )  # fmt: skip
    assert (document["input"]["records"], document["input"]["ignored"]) == (1, 2)


def test_a_file_of_summaries_alone_is_no_error(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "session.jsonl", [SUMMARY, {**SUMMARY, "leafUuid": "u-1"}])
    config = write_text(tmp_path / "botistat.yaml", SESSION_CONFIG)
    document, stderr = report_json(str(log), "-c", str(config))
    assert (document["input"]["records"], document["input"]["ignored"]) == (0, 2)
    assert document["input"]["skipped"] == 0
    assert "no records found" in stderr


def test_exchange_records_are_counted_as_messages(tmp_path: Path) -> None:
    calls = [{"timestamp": "2026-11-19T10:00:00Z", "latency_ms": 5}] * 3
    log = write_jsonl(tmp_path / "calls.jsonl", calls)
    config = write_text(tmp_path / "botistat.yaml", "record: exchange\n")
    document, _ = report_json(str(log), "-c", str(config))
    assert (document["input"]["records"], document["input"]["ignored"]) == (6, 0)
    assert document["input"]["shapes"]["exchange"] == 3
