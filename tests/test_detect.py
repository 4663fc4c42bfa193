"""Choosing a preset from the logs' shape: only on a clear signature, only when nothing says how
to read the logs, said on stderr and in the report's ``input``, and off with --preset none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import botistat
from botistat.core.config import Config, parse_config
from botistat.core.presets import PRESETS
from botistat.ingest.blocks import HEAD_BYTES
from botistat.ingest.detect import (
    HEAD_RECORDS,
    SIGNATURES,
    UNDECIDED,
    UNKNOWN,
    detect_preset,
    head_records,
    preset_of,
)
from botistat.ingest.sources import resolve_sources
from tests.conftest import ROOT, invoke, run_botistat, write_jsonl, write_text
from tests.test_presets import CLAUDE_MESSAGES, CLAUDE_TOKENS, FIXTURES, claude_projects

NOTE = "botistat: using preset {} (detected from {}); --preset none turns this off"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("fixture", "preset"),
    [
        ("openai.jsonl", "openai"),
        ("litellm.jsonl", "litellm"),
        ("litellm-spendlogs.jsonl", "litellm-spendlogs"),
        ("langfuse.jsonl", "langfuse"),
        ("langfuse-export.jsonl", "langfuse"),
        ("nested-messages.jsonl", "nested-messages"),
        ("claude-code/session.jsonl", "claude-code"),
        ("claude-code/subagent.jsonl", "claude-code"),
        ("claude-code/legacy-costusd.jsonl", "claude-code"),
        ("openai-batch/output.jsonl", "openai-batch"),
        ("openai-batch/errors.jsonl", "openai-batch"),
    ],
)
def test_each_known_format_is_recognised(fixture: str, preset: str) -> None:
    assert preset_of(records(FIXTURES / fixture)) == preset


def test_every_preset_has_a_signature() -> None:
    assert set(SIGNATURES) == set(PRESETS)


def test_no_preset_on_a_guess() -> None:
    # The default log format, and lines of two formats in one sample.
    for log in sorted((ROOT / "sample_logs").glob("*/*.jsonl")):
        assert preset_of(head_records(log.read_bytes())) == UNKNOWN, log
    claude = records(FIXTURES / "claude-code/session.jsonl")
    batch = records(FIXTURES / "openai-batch/output.jsonl")
    assert preset_of(claude + batch) == UNKNOWN
    # One record of another shape among the format's lines.
    assert preset_of([*batch, {"timestamp": "2026-01-01T00:00:00Z", "role": "user"}]) == UNKNOWN
    # A Claude Code line without its message proves nothing; nor do summaries.
    assert preset_of([{"type": "user", "sessionId": "s"}]) == UNDECIDED
    assert preset_of(records(FIXTURES / "claude-code/summary-only.jsonl")) == UNDECIDED
    assert preset_of([]) == UNDECIDED


def test_only_the_whole_lines_of_the_head_are_read() -> None:
    line = json.dumps({"custom_id": "a", "response": None, "error": None}).encode()
    whole = HEAD_BYTES // (len(line) + 1)
    head = ((line + b"\n") * (whole + 1))[:HEAD_BYTES]  # the head cuts the last line
    assert len(head_records(head, limit=whole + 10)) == whole
    assert len(head_records(head)) == HEAD_RECORDS
    # A first line longer than the head: nothing to tell from.
    assert head_records(b'{"custom_id": "' + b"x" * HEAD_BYTES) == []
    # A short input is whole: its last line counts without a newline.
    assert head_records(line) == [json.loads(line)]


def test_a_directory_is_told_by_its_first_file_with_records(tmp_path: Path) -> None:
    projects = claude_projects(tmp_path)
    sources = resolve_sources([str(projects)])
    # In name order: the summary-only file comes first and tells nothing.
    assert sources[0].name.endswith("0a9a8045-53e9-44b1-83fb-aafc6e1f4f0b.jsonl")
    found = detect_preset(sources)
    assert found is not None
    assert found.preset == "claude-code"
    assert found.source == sources[1].name
    # A first file of no known format settles it: no preset for the rest.
    write_jsonl(projects / "-0" / "app.jsonl", [{"timestamp": 1, "role": "user"}])
    assert detect_preset(resolve_sources([str(projects)])) is None


def report(cli: CliRunner, *args: str) -> tuple[dict[str, Any], str]:
    result = invoke(cli, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document, result.stderr


def test_report_detects_claude_code(cli: CliRunner, tmp_path: Path) -> None:
    projects = claude_projects(tmp_path)
    detected, stderr = report(cli, str(projects))
    source = str(projects / "-Users-ana-src-shop-api" / "3f1c2a9e-7b4d-4e21-9c0a-5d8e6f1b2a34")
    source += "/subagents/agent-a3f9c21.jsonl"
    assert stderr.splitlines() == [NOTE.format("claude-code", source)]
    assert detected["messages"] == CLAUDE_MESSAGES
    assert detected["tokens"] == CLAUDE_TOKENS
    assert detected["input"]["preset"] == "claude-code"
    assert detected["input"]["preset_detected_from"] == source
    given, stderr = report(cli, str(projects), "--preset", "claude-code")
    assert stderr == ""
    assert given["input"]["preset_detected_from"] is None
    assert {**given, "input": None} == {**detected, "input": None}


def test_report_detects_openai_batch(cli: CliRunner) -> None:
    doc, stderr = report(cli, str(FIXTURES / "openai-batch"))
    assert "using preset openai-batch" in stderr
    assert doc["messages"]["total"] == 6
    assert doc["input"]["skipped"] == 3


def test_preset_none_turns_detection_off(cli: CliRunner, tmp_path: Path) -> None:
    projects = str(claude_projects(tmp_path))
    # The default mapping cannot read these lines.
    result = invoke(cli, "report", projects, "--preset", "none", "-f", "json")
    assert result.exit_code == 2
    assert "using preset" not in result.stderr
    assert "is missing from every record" in result.stderr
    config = write_text(tmp_path / "c.yaml", "preset: none\n")
    result = invoke(cli, "report", projects, "-c", str(config), "-f", "json")
    assert result.exit_code == 2
    assert "using preset" not in result.stderr


def test_a_config_that_maps_fields_is_not_second_guessed(cli: CliRunner, tmp_path: Path) -> None:
    config = write_text(tmp_path / "c.yaml", "fields: {role: type}\n")
    doc, stderr = report(cli, str(FIXTURES / "claude-code/session.jsonl"), "-c", str(config))
    assert stderr == ""
    assert doc["input"]["preset"] is None
    # Read with the config's mapping: every streamed line counts, no message id.
    assert doc["input"]["merged"] == 0
    assert doc["messages"]["total"] == 9
    # A config of other settings only (prices, time zone) still gets the detection.
    other = write_text(tmp_path / "o.yaml", "timezone: Europe/Berlin\n")
    doc, stderr = report(cli, str(FIXTURES / "claude-code/session.jsonl"), "-c", str(other))
    assert "using preset claude-code" in stderr
    assert doc["input"]["merged"] == 2


def test_config_flags() -> None:
    assert Config().detects_preset
    assert parse_config({"prices": {}}).detects_preset
    for data in ({"fields": {}}, {"record": "message"}, {"preset": "none"}, {"sources": []}):
        assert not parse_config(data).detects_preset, data
    assert not parse_config({}, preset_name="none").detects_preset
    assert parse_config({}, preset_name="NONE").preset is None
    # A Config built in code with a mapping of its own.
    assert not Config(fields={"timestamp": "ts"}).detects_preset


def test_library_reports_the_detected_preset(tmp_path: Path) -> None:
    log = FIXTURES / "claude-code" / "session.jsonl"
    report = botistat.build_report([log])
    assert (report.input.preset, report.input.preset_detected_from) == ("claude-code", str(log))
    assert report.input.merged == 2
    given = botistat.build_report([log], preset="claude-code")
    assert (given.input.preset, given.input.preset_detected_from) == ("claude-code", None)
    with pytest.raises(botistat.BotistatError, match="required field 'role'"):
        botistat.build_report([log], preset="none")
    document = botistat.report_document(report)
    assert document["input"]["preset"] == "claude-code"


def test_stdin_is_detected_from_what_the_scan_peeks_at() -> None:
    data = (FIXTURES / "openai-batch" / "output.jsonl").read_bytes()
    result = run_botistat("report", "-", "-f", "json", input=data)
    assert result.returncode == 0, result.stderr
    stderr = result.stderr.decode()
    assert stderr.splitlines() == [NOTE.format("openai-batch", "<stdin>")]
    assert json.loads(result.stdout)["tokens"]["total"] == 3381


def test_csv_and_default_logs_keep_the_default_mapping(cli: CliRunner) -> None:
    doc, stderr = report(cli, str(ROOT / "sample_logs"))
    assert "using preset" not in stderr
    assert doc["input"]["preset"] is None


def test_check_and_watch_replay_detect_too(cli: CliRunner, tmp_path: Path) -> None:
    projects = str(claude_projects(tmp_path))
    checked = invoke(
        cli, "check", projects, "-t", "messages.total == 9", "-t", "errors.rate == 25%"
    )
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "using preset claude-code" in checked.stderr
    replayed = invoke(cli, "watch", projects, "--replay", "--format", "jsonl", "--bucket", "1h")
    assert replayed.exit_code == 0, replayed.stderr
    assert "using preset claude-code" in replayed.stderr
    buckets = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [(b["messages"], b["tokens"]) for b in buckets if b["event"] == "bucket"] == [(9, 1208)]
