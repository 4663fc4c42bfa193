"""``botistat inspect``: on files, directories and stdin, always a config file YAML can load, and
the round trip ``inspect > cfg.yaml`` then ``report -c cfg.yaml`` (real subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from botistat.ingest.inspect import yaml_comment, yaml_scalar
from tests.conftest import run_botistat, write_jsonl, write_text
from tests.hostile.conftest import CRASH_MARKERS
from tests.test_presets import FIXTURES, claude_projects

#: Text that breaks a YAML comment or a plain scalar when written as it is.
NASTY = [
    "two\nlines",
    "cr\r\nlf",
    "tab\there",
    "# hash",
    "key: value",
    "- dash",
    "{brace}",
    "[bracket]",
    '"quoted"',
    "back\\slash",
    "next\x85line",
    "line\u2028separator",
    "para\u2029graph",
    "nul\x00byte",
    "del\x7f",
    "bom\ufeff",
    "emoji \U0001f600",
    "yes",
    "null",
    "~",
    "  padded  ",
    "",
]


def inspect(*args: str, input: bytes | None = None) -> tuple[str, str]:
    result = run_botistat("inspect", *args, input=input)
    stderr = result.stderr.decode()
    for marker in CRASH_MARKERS:
        assert marker.decode() not in stderr
    assert result.returncode == 0, stderr
    return result.stdout.decode(), stderr


def report(*args: str) -> dict[str, Any]:
    result = run_botistat("report", *args, "-f", "json")
    assert result.returncode == 0, result.stderr.decode()
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def round_trip(tmp_path: Path, *paths: str, input: bytes | None = None) -> dict[str, Any]:
    """``inspect > cfg.yaml`` on the first path, then ``report -c cfg.yaml`` on them all."""
    config, _ = inspect(paths[0], input=input)
    write_text(tmp_path / "cfg.yaml", config)
    return report(*paths, "-c", str(tmp_path / "cfg.yaml"))


def test_scalars_read_back_as_the_same_string() -> None:
    for text in NASTY:
        assert yaml.safe_load(f"key: {yaml_scalar(text)}\n") == {"key": text}, repr(text)
    assert yaml_scalar("usage.prompt_tokens") == "usage.prompt_tokens"


def test_comments_stay_one_line() -> None:
    for text in NASTY:
        assert yaml.safe_load(f"{yaml_comment(text)}\nkey: 1\n") == {"key": 1}, repr(text)


@given(st.text())
def test_any_text_is_a_safe_comment_and_scalar(text: str) -> None:
    document = f"{yaml_comment(text)}\nkey: {yaml_scalar(text)}\n"
    assert yaml.safe_load(document) == {"key": text}


def nested_chat() -> list[dict[str, Any]]:
    """Two conversations, fields nested two deep under names inspect knows, texts over several
    lines and with YAML's own characters; a key with a dot and one with blanks, which no
    mapping can name."""
    text = "line one\nline two # not a comment\r\n- item: x\u2028\x85end"
    rows = []
    for conversation, start in (("c1", 0), ("c2", 100)):
        for offset, role, tokens in ((0, "user", None), (2, "assistant", (40, 12))):
            row: dict[str, Any] = {
                "event": {
                    "Time Stamp": 1_795_003_200 + start + offset,
                    "role": role,
                    "chat": {"conversation id": conversation},
                },
                "text": text,
                "odd.key": 1,
                " padded ": "x",
            }
            if tokens is not None:
                row["usage"] = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}
            rows.append(row)
    return rows


def test_round_trip_on_nested_and_multi_line_data(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "chat.jsonl", nested_chat())
    config, _ = inspect(str(log))
    assert yaml.safe_load(config) == {
        "record": "message",
        "fields": {
            "timestamp": "event.Time Stamp",
            "role": "event.role",
            "conversation_id": "event.chat.conversation id",
            "prompt_tokens": "usage.prompt_tokens",
            "completion_tokens": "usage.completion_tokens",
        },
    }
    doc = round_trip(tmp_path, str(log))
    assert doc["messages"] == {"total": 4, "user": 2, "bot_responses": 2, "failed": 0}
    assert doc["tokens"]["total"] == 2 * (40 + 12)
    assert doc["response_ms"]["count"] == 2
    assert doc["response_ms"]["max"] == 2000.0


def test_round_trip_on_a_csv_with_multi_line_cells(tmp_path: Path) -> None:
    log = write_text(
        tmp_path / "chat.csv",
        "sent at,sender,thread id,tokens out\n"
        '2026-11-18T09:00:00Z,user,a,"0"\n'
        '2026-11-18T09:00:03Z,bot,a,"7"\n'
        '2026-11-18T09:01:00Z,user,"b\nwith # a newline: in it",\n',
    )
    config, _ = inspect(str(log))
    assert yaml.safe_load(config)["fields"]["conversation_id"] == "thread id"
    doc = round_trip(tmp_path, str(log))
    assert doc["messages"]["total"] == 3
    assert doc["tokens"]["completion"] == 7
    assert doc["response_ms"]["count"] == 1


def test_cost_error_and_message_id_are_suggested(tmp_path: Path) -> None:
    """A reply logged twice under one message id (usage growing from 5 to 9 output tokens),
    a cost in USD, and an error flag: all three suggested, so the report merges the repeat
    (tokens 100 + 9), reads the logged cost ($0.002 + $0.003, the largest of the repeat) and
    counts the error."""
    rows = [
        {"ts": "2026-11-18T09:00:00Z", "role": "user", "conv": "a", "msg_id": "u1"},
        {"ts": "2026-11-18T09:00:02Z", "role": "assistant", "conv": "a", "msg_id": "m1"}
        | {"tokens_in": 100, "tokens_out": 5, "cost_usd": 0.002, "is_error": False},
        {"ts": "2026-11-18T09:00:03Z", "role": "assistant", "conv": "a", "msg_id": "m1"}
        | {"tokens_in": 100, "tokens_out": 9, "cost_usd": 0.002, "is_error": False},
        {"ts": "2026-11-18T09:01:00Z", "role": "user", "conv": "b", "msg_id": "u2"},
        {"ts": "2026-11-18T09:01:01Z", "role": "assistant", "conv": "b", "msg_id": "m2"}
        | {"tokens_in": 0, "tokens_out": 0, "cost_usd": 0.003, "is_error": True},
    ]
    log = write_jsonl(tmp_path / "app.jsonl", rows)
    config, _ = inspect(str(log))
    fields = yaml.safe_load(config)["fields"]
    assert (fields["cost"], fields["error"], fields["message_id"]) == (
        "cost_usd",
        "is_error",
        "msg_id",
    )
    doc = round_trip(tmp_path, str(log))
    assert doc["input"]["merged"] == 1
    assert doc["tokens"]["completion"] == 9
    assert doc["errors"]["transactions"] == 1
    assert doc["cost"]["total_usd"] == 0.005


def test_an_id_shared_by_question_and_answer_is_no_message_id(tmp_path: Path) -> None:
    rows = [
        {"ts": "2026-11-18T09:00:00Z", "role": "user", "request_id": "r1"},
        {"ts": "2026-11-18T09:00:02Z", "role": "assistant", "request_id": "r1"},
    ]
    config, _ = inspect(str(write_jsonl(tmp_path / "app.jsonl", rows)))
    assert "message_id" not in yaml.safe_load(config)["fields"]


def test_a_directory_is_sampled_across_its_files(tmp_path: Path) -> None:
    # Three files, each with a field of its own: all three are listed.
    for name in ("a", "b", "c"):
        write_jsonl(
            tmp_path / "logs" / f"{name}.jsonl",
            [
                {"timestamp": 1_795_003_200 + i, "role": "user", f"only_{name}": i}
                for i in range(80)
            ],
        )
    config, _ = inspect(str(tmp_path / "logs"), "--sample", "150")
    lines = config.splitlines()
    assert lines[0] == f"# {tmp_path / 'logs'}: 150 records sampled from 3 files"
    # 150 shared out: 50 from each.
    listed = {line.split()[1]: line.split()[3] for line in lines if "only_" in line}
    assert listed == {"only_a": "33%", "only_b": "33%", "only_c": "33%"}


def test_a_directory_of_a_known_format_gets_its_preset(tmp_path: Path) -> None:
    projects = str(claude_projects(tmp_path))
    config, _ = inspect(projects)
    assert yaml.safe_load(config) == {"preset": "claude-code"}
    assert round_trip(tmp_path, projects) == report(projects, "--preset", "claude-code")


def test_stdin(tmp_path: Path) -> None:
    data = (FIXTURES / "openai-batch" / "output.jsonl").read_bytes()
    config, _ = inspect("-", input=data)
    assert config.splitlines()[0] == "# -: 3 records sampled"
    assert yaml.safe_load(config) == {"preset": "openai-batch"}
    log = write_jsonl(tmp_path / "chat.jsonl", nested_chat())
    assert round_trip(tmp_path, "-", str(log), input=log.read_bytes())["messages"]["total"] == 4


def test_an_unreadable_file_in_a_directory_is_passed_over(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "logs" / "a.jsonl", nested_chat())
    write_text(tmp_path / "logs" / "b.jsonl", '[{"a": 1},\n{"b": 2}]\n')
    (tmp_path / "logs" / "c.jsonl.gz").write_bytes(b"\x1f\x8b not gzip at all")
    config, stderr = inspect(str(tmp_path / "logs"))
    assert "records sampled from 2 files" in config.splitlines()[0]
    assert f"botistat: warning: skipped file {tmp_path / 'logs' / 'c.jsonl.gz'}" in stderr
    assert yaml.safe_load(config)["fields"]["role"] == "event.role"


def test_nothing_to_inspect_is_one_line(tmp_path: Path) -> None:
    result = run_botistat("inspect", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[0].startswith("botistat: error: ")
    empty = write_text(tmp_path / "empty.jsonl", "\n")
    result = run_botistat("inspect", str(empty))
    assert result.returncode == 2
    assert b"no records to inspect" in result.stderr
