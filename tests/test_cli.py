"""The command line: exit codes, error lines, input kinds and output formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botistat import __version__
from tests.conftest import invoke, run_botistat, write_jsonl, write_text

USER = {"timestamp": "2026-11-19T10:00:00Z", "conversation_id": "c", "role": "user"}
BOT = {"timestamp": "2026-11-19T10:00:01Z", "conversation_id": "c", "role": "bot"}


def assert_user_error(result: object, *fragments: str) -> None:
    """Exit 2, one error line naming what and where, a hint at most, no traceback."""
    exit_code = result.exit_code  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert exit_code == 2, stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("botistat: error: "), stderr
    assert all(line.startswith("  hint: ") for line in lines[1:]), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr
    assert "Traceback" not in stderr


def test_help_documents_exit_codes(cli: CliRunner) -> None:
    for args in (["--help"], ["report", "--help"]):
        result = invoke(cli, *args)
        assert result.exit_code == 0
        text = " ".join(result.stdout.split())
        assert (
            "Exit codes: 0 ok; 1 a threshold was breached; 2 usage, config or input error" in text
        )


def test_version(cli: CliRunner) -> None:
    result = invoke(cli, "--version")
    assert result.stdout.strip() == f"botistat {__version__}"


def test_missing_path(cli: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert_user_error(invoke(cli, "report", str(missing)), "no such file", str(missing))


def test_glob_without_match(cli: CliRunner, tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.jsonl")
    assert_user_error(invoke(cli, "report", pattern), "no files match", pattern)


def test_unknown_config_key(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER])
    config = write_text(tmp_path / "c.yaml", "fields:\n  timestmp: ts\n")
    result = invoke(cli, "report", str(log), "--config", str(config))
    assert_user_error(result, "fields.timestmp", str(config))
    assert "did you mean 'timestamp'" in result.stderr


def test_wrong_config_type(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER])
    config = write_text(tmp_path / "c.yaml", "failed_statuses: {a: 1}\n")
    assert_user_error(
        invoke(cli, "report", str(log), "-c", str(config)), "failed_statuses", str(config)
    )


def test_invalid_yaml(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER])
    config = write_text(tmp_path / "c.yaml", "fields: [unclosed\n")
    assert_user_error(invoke(cli, "report", str(log), "-c", str(config)), "not valid YAML")


def test_config_found_in_working_directory(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{**USER, "who": "user"}, {**BOT, "who": "bot"}])
    write_text(tmp_path / "botistat.yaml", "fields:\n  role: who\n")
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"timestamp": 1, "who": "user", "conversation_id": "c"}) + "\n"
    )
    monkeypatch.chdir(tmp_path)
    doc = json.loads(invoke(cli, "report", "a.jsonl").stdout)
    assert doc["messages"]["user"] == 1


def test_bad_group_key_and_time(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER])
    assert_user_error(invoke(cli, "report", str(log), "--by", "weekday"), "weekday", "--by")
    assert_user_error(invoke(cli, "report", str(log), "--since", "last tuesday"), "--since")


def test_strict_fails_on_first_malformed_line(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, "{broken", BOT])
    assert invoke(cli, "report", str(log)).exit_code == 0
    assert_user_error(invoke(cli, "report", str(log), "--strict"), f"{log}:2", "invalid JSON")


def test_required_field_missing_everywhere(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [{"ts": "2026-11-19T10:00:00Z", "role": "user"}])
    result = invoke(cli, "report", str(log))
    assert_user_error(result, "'timestamp'", str(log))
    assert "fields:" in result.stderr


def test_required_csv_column_missing(cli: CliRunner, tmp_path: Path) -> None:
    log = write_text(tmp_path / "a.csv", "time,role\n2026-11-19T10:00:00Z,user\n")
    result = invoke(cli, "report", str(log))
    assert_user_error(result, "'timestamp'", str(log))
    assert "time, role" in result.stderr


def test_json_array_file(cli: CliRunner, tmp_path: Path) -> None:
    log = write_text(tmp_path / "a.json", json.dumps([USER, BOT]))
    assert_user_error(invoke(cli, "report", str(log)), "JSON array", str(log))


def test_empty_input_is_a_report_of_zeros(cli: CliRunner, tmp_path: Path) -> None:
    log = write_text(tmp_path / "empty.jsonl", "")
    result = invoke(cli, "report", str(log))
    assert result.exit_code == 0
    assert "no records" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["messages"] == {"total": 0, "user": 0, "bot_responses": 0, "failed": 0}
    assert doc["response_ms"]["count"] == 0
    assert doc["response_ms"]["p95"] is None
    assert doc["errors"]["rate"] is None


def test_empty_stdin_grouped_by_channel(cli: CliRunner) -> None:
    # Stdin has no size, so it takes the partitioned path, which must cope with no records.
    result = invoke(cli, "report", "-", "--by", "channel", "--format", "json", input="")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["messages"]["total"] == 0
    assert doc["groups"] == []


def test_stdin_plain_and_gzip(cli: CliRunner) -> None:
    text = json.dumps(USER) + "\n" + json.dumps(BOT) + "\n"
    doc = json.loads(invoke(cli, "report", "-", input=text).stdout)
    assert doc["messages"]["total"] == 2
    assert doc["response_ms"]["max"] == 1000.0
    result = run_botistat("report", "-", input=gzip.compress(text.encode()))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["messages"]["total"] == 2
    csv_text = "timestamp,role,conversation_id\n2026-11-19T10:00:00Z,user,c\n"
    doc = json.loads(invoke(cli, "report", "-", input=csv_text).stdout)
    assert doc["messages"]["user"] == 1


def test_directory_recursion_skips_hidden_and_other_files(cli: CliRunner, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a" / "b" / "one.jsonl", [USER])
    write_jsonl(tmp_path / "two.ndjson.gz", [BOT])
    write_jsonl(tmp_path / ".hidden" / "three.jsonl", [USER])
    write_text(tmp_path / "notes.txt", "not a log\n")
    doc = json.loads(invoke(cli, "report", str(tmp_path)).stdout)
    assert doc["input"]["files"] == 2
    assert doc["messages"]["total"] == 2


def test_same_file_twice_is_read_once(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    doc = json.loads(
        invoke(cli, "report", str(log), str(tmp_path), str(tmp_path / "*.jsonl")).stdout
    )
    assert doc["input"]["files"] == 1
    assert doc["messages"]["total"] == 2


def test_input_format_override(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "chat.log", [USER, BOT])
    assert json.loads(invoke(cli, "report", str(log)).stdout)["messages"]["total"] == 2
    tsv = write_text(tmp_path / "x.txt", "timestamp\trole\n2026-11-19T10:00:00Z\tuser\n")
    doc = json.loads(invoke(cli, "report", str(tsv), "--input-format", "tsv").stdout)
    assert doc["messages"]["user"] == 1


def test_output_file_format_from_extension(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    out = tmp_path / "report.md"
    result = invoke(cli, "report", str(log), "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert out.read_text().startswith("# botistat report")
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_when_not_a_terminal_is_plain(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    out = invoke(cli, "report", str(log), "--format", "table").stdout
    assert "\x1b[" not in out
    assert "Total messages" in out
    assert out.isascii()


def test_piped_output_defaults_to_json(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    result = run_botistat("report", str(log))
    assert result.returncode == 0
    assert json.loads(result.stdout)["schema_version"] == 1
    assert result.stderr == b""


def test_spilled_to_partitions_gives_the_same_result(cli: CliRunner, tmp_path: Path) -> None:
    records = []
    for i in range(300):
        conversation = f"c{i % 37}"
        records.append({**USER, "conversation_id": conversation, "timestamp": 1763546400 + i})
        records.append(
            {
                **BOT,
                "conversation_id": conversation,
                "timestamp": 1763546400.5 + i,
                "total_tokens": i,
            }
        )
    log = write_jsonl(tmp_path / "a.jsonl", records)
    in_memory = invoke(cli, "report", str(log), "--by", "hour").stdout
    spilled = invoke(cli, "report", str(log), "--by", "hour", "--partitions", "4").stdout
    assert json.loads(spilled) == json.loads(in_memory)
    assert json.loads(in_memory)["response_ms"]["count"] == 300


def test_bad_memory_budget(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER])
    assert_user_error(invoke(cli, "report", str(log), "--memory-budget", "lots"), "--memory-budget")


def test_time_range_that_excludes_everything_says_where_the_records_are(
    cli: CliRunner, tmp_path: Path
) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    result = invoke(cli, "report", str(log), "--since", "2026-12-01")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "botistat: warning: no records in the time range "
        "(2 records read, first 2026-11-19T10:00:00Z, last 2026-11-19T10:00:01Z)"
    ]
    assert json.loads(result.stdout)["messages"]["total"] == 0
    # Standard input cannot be read a second time to find the times: the count is told.
    text = json.dumps(USER) + "\n" + json.dumps(BOT) + "\n"
    result = invoke(cli, "report", "-", "--until", "2026-11-01", input=text)
    assert result.stderr.splitlines() == [
        "botistat: warning: no records in the time range (2 records read)"
    ]
    # Nothing read at all is another thing.
    empty = write_text(tmp_path / "empty.jsonl", "")
    result = invoke(cli, "report", str(empty), "--since", "2026-12-01")
    assert result.stderr.splitlines() == ["botistat: warning: no records found in the input"]


def test_check_says_the_same_about_an_empty_range(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    result = run_botistat("check", str(log), "--since", "2026-12-01", "-t", "messages.total >= 0")
    assert result.returncode == 0
    assert b"no records in the time range (2 records read, first 2026-11-19" in result.stderr


@pytest.mark.parametrize(
    ("since", "until"),
    [("2026-11-20", "2026-11-19"), ("2026-11-19", "2026-11-19"), ("1d", "2d")],
)
def test_inverted_time_range_is_an_error(cli: CliRunner, since: str, until: str) -> None:
    result = invoke(cli, "report", "sample_logs", "--since", since, "--until", until)
    assert_user_error(result, f"--since {since} is not before --until {until}")
    assert result.stderr.splitlines()[0].endswith("(--since, --until)")


def test_compare_from_the_future_is_an_error(cli: CliRunner) -> None:
    result = invoke(cli, "report", "sample_logs", "--since", "2999-01-01", "--compare", "previous")
    assert_user_error(result, "--since 2999-01-01 is not before now", "(--since)")


def test_output_dash_is_stdout(cli: CliRunner, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    result = invoke(cli, "report", str(log), "-o", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["messages"]["total"] == 2
    assert not (Path.cwd() / "-").exists()
    result = invoke(cli, "report", str(log), "-o", "-", "-f", "markdown")
    assert result.stdout.startswith("# botistat report")


def test_email_dry_run_needs_no_recipient_and_writes_to_stdout(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no botistat.yaml with recipients here
    log = write_jsonl(tmp_path / "a.jsonl", [USER, BOT])
    result = invoke(cli, "email", str(log), "--dry-run", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert "To: undisclosed-recipients:;" in result.stdout
    assert "Content-Type: multipart/alternative" in result.stdout
    assert not (tmp_path / "-").exists()
    # Sending still needs someone to send to.
    assert_user_error(invoke(cli, "email", str(log)), "no recipients", "--to")


@pytest.mark.parametrize("command", ["report", "check"])
def test_repeated_by_is_an_error(cli: CliRunner, command: str) -> None:
    args = [command, "sample_logs", "--by", "bot_id", "--by", "channel"]
    if command == "check":
        args += ["-t", "messages.total > 0"]
    assert_user_error(invoke(cli, *args), "--by given 2 times (bot_id, channel)", "(--by)")
