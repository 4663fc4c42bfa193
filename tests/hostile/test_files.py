"""Files that must not sink a run: records that are no messages, files of another kind in a
log directory, files cut short, binary files. Real files, real subprocesses."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import Any

from tests.conftest import write_jsonl, write_text
from tests.hostile.conftest import assert_accounted, nonblank_lines, report_json, run_hostile

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


def _messages(count: int, conversation: str = "c-1") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": f"2026-11-19T10:{i // 60:02d}:{i % 60:02d}Z",
            "role": "user" if i % 2 == 0 else "bot",
            "conversation_id": conversation,
            "prompt_tokens": 1,
        }
        for i in range(count)
    ]


def _stray_files(directory: Path) -> dict[str, str]:
    """Files a log directory often holds besides the logs, each with why it is skipped."""
    write_text(directory / "other.csv", "name,value\nretries,3\n")
    write_text(directory / "settings.json", json.dumps([{"theme": "dark"}, {"a": 1}], indent=2))
    write_jsonl(directory / "session.jsonl", [SUMMARY, {**SUMMARY, "leafUuid": "u-1"}])
    return {
        "other.csv": "required field 'timestamp' (timestamp) is not a column",
        "session.jsonl": "required field 'timestamp' (timestamp) is missing from every record",
        "settings.json": "file is a JSON array, not JSON Lines",
    }


def test_files_that_are_no_logs_are_skipped_in_a_directory(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = write_jsonl(logs / "a.jsonl", [*_messages(6), "not json"])
    reasons = _stray_files(logs)
    document, stderr = report_json(str(logs))
    summary = document["input"]
    assert summary["files"] == 4
    assert summary["skipped_files"] == [
        {"file": str(logs / name), "reason": reason} for name, reason in sorted(reasons.items())
    ]
    # The lines of the skipped files are not malformed lines of a log.
    assert summary["skipped_by_file"] == {str(good): 1}
    assert_accounted(document, nonblank_lines(good))
    assert document["messages"]["total"] == 6
    for name, reason in reasons.items():
        assert f"botistat: warning: skipped file {logs / name}: {reason}" in stderr


def test_a_directory_of_no_logs_is_one_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    reasons = _stray_files(logs)
    result = run_hostile("report", str(logs), "-f", "json")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines == [
        "botistat: error: no records in any input (3 of 3 skipped); first skipped: "
        f"{reasons['other.csv']} ({logs / 'other.csv'})",
        "  hint: columns are: name, value; map yours in the config under fields:",
    ]
    assert result.stdout == b""


def test_one_file_that_is_no_log_is_the_same_error_as_before(tmp_path: Path) -> None:
    other = write_text(tmp_path / "other.csv", "name,value\nretries,3\n")
    result = run_hostile("report", str(other), "-f", "json")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"botistat: error: required field 'timestamp' (timestamp) is not a column ({other})",
        "  hint: columns are: name, value; map yours in the config under fields:",
    ]


def test_strict_makes_a_skipped_file_an_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_jsonl(logs / "a.jsonl", _messages(4))
    write_text(logs / "b.csv", "name,value\nretries,3\n")
    result = run_hostile("report", str(logs), "--strict", "-f", "json")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[0] == (
        f"botistat: error: required field 'timestamp' (timestamp) is not a column "
        f"({logs / 'b.csv'})"
    )


def _whole_lines(compressed: bytes) -> int:
    """The whole lines that still inflate from a cut gzip stream (worked out with zlib,
    independently of botistat's reader); the line the cut falls in is not whole."""
    return zlib.decompressobj(wbits=31).decompress(compressed).count(b"\n")


def test_a_truncated_gzip_keeps_what_inflates(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_jsonl(logs / "a.jsonl", _messages(10, "c-a"))
    lines = "".join(json.dumps(record) + "\n" for record in _messages(3000, "c-b")).encode()
    compressed = gzip.compress(lines, mtime=0)
    cut = compressed[: len(compressed) * 2 // 3]
    (logs / "b.jsonl.gz").write_bytes(cut)
    whole = _whole_lines(cut)
    assert 0 < whole < 3000
    document, stderr = report_json(str(logs))
    summary = document["input"]
    assert summary["records"] == 10 + whole
    assert summary["skipped"] == 0  # the line cut in two went with the rest
    assert summary["skipped_files"] == [
        {"file": str(logs / "b.jsonl.gz"), "reason": "truncated gzip (read up to the cut)"}
    ]
    assert f"skipped file {logs / 'b.jsonl.gz'}: truncated gzip" in stderr
    # A single truncated file gives what it can too.
    alone, _ = report_json(str(logs / "b.jsonl.gz"))
    assert alone["input"]["records"] == whole


def test_a_truncated_gzip_csv_keeps_its_header(tmp_path: Path) -> None:
    rows = "".join(f"2026-11-19T10:00:{i % 60:02d}Z,user,{i}\n" for i in range(20000))
    compressed = gzip.compress(("ts,role,tokens\n" + rows).encode(), mtime=0)
    cut = compressed[: len(compressed) // 2]
    log = tmp_path / "b.csv.gz"
    log.write_bytes(cut)
    whole = _whole_lines(cut)
    config = write_text(tmp_path / "botistat.yaml", "fields: {timestamp: ts}\n")
    document, _ = report_json(str(log), "-c", str(config), "--memory-budget", "64k")
    assert document["input"]["records"] == whole - 1  # the header is no record


def test_a_csv_field_too_large_for_pythons_reader_costs_only_its_bad_row(tmp_path: Path) -> None:
    """A quoted field over Python's 128 KiB limit beside a malformed row: the large field is
    read, the short row skipped, and the other file in the directory read too."""
    logs = tmp_path / "logs"
    write_jsonl(logs / "a.jsonl", _messages(4))
    huge = "x" * 200_000
    write_text(
        logs / "b.csv",
        f'timestamp,role,text\n2026-11-19T10:00:00Z,user,"{huge}"\n2026-11-19T10:00:01Z,bot\n',
    )
    document, _ = report_json(str(logs))
    assert document["input"]["records"] == 4 + 1
    assert document["input"]["skipped_by_file"] == {str(logs / "b.csv"): 1}
    assert document["input"]["skipped_files"] == []


def test_salvage_goes_on_after_the_blocks_already_read(tmp_path: Path) -> None:
    """With blocks smaller than the file, the fast reader hands over some blocks before the
    cut; what inflates after them follows, each byte once, lines numbered on."""
    from botistat.ingest.salvage import ReadableBlocks
    from botistat.ingest.sources import Source

    text = "".join(f"line {i} {'x' * (i % 50)}\n" for i in range(40_000)).encode()
    compressed = gzip.compress(b"\xef\xbb\xbf" + text, mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) * 3 // 4])
    whole = _whole_lines(path.read_bytes())
    source = Source(str(path), path, "jsonl", True, path.stat().st_size)
    blocks = ReadableBlocks(source, quote=None, block_size=64 << 10)
    read = list(blocks)
    assert blocks.error is not None
    assert b"".join(block.data for block, _ in read) == b"".join(
        line + b"\n" for line in text.split(b"\n")[:whole]
    )
    next_line = 1
    for block, _ in read:
        assert block.first_line == next_line
        next_line += block.data.count(b"\n")
    assert len(read) > 3


#: The start of a PNG image: its signature, then the header chunk (NUL bytes in its length).
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"


def test_binary_files_are_skipped_in_a_directory(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = write_jsonl(logs / "a.jsonl", _messages(4))
    (logs / "image.csv").write_bytes(PNG + bytes(range(256)) * 40)
    (logs / "tool.jsonl").write_bytes(Path(sys.executable).resolve().read_bytes()[:200_000])
    document, stderr = report_json(str(logs))
    assert document["input"]["skipped_files"] == [
        {"file": str(logs / name), "reason": "not a text log (binary data)"}
        for name in ("image.csv", "tool.jsonl")
    ]
    assert_accounted(document, nonblank_lines(good))
    assert "columns are" not in stderr


def test_naming_a_binary_file_is_one_error(tmp_path: Path) -> None:
    for name, data in (
        ("x.csv", PNG + bytes(range(256)) * 40),
        ("x.log", Path(sys.executable).resolve().read_bytes()[:200_000]),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        result = run_hostile("report", str(path), "-f", "json")
        assert result.returncode == 2
        assert result.stderr.decode().splitlines() == [
            f"botistat: error: not a text log (binary data) ({path})",
            "  hint: botistat reads JSON Lines and CSV/TSV text logs in UTF-8, optionally "
            "gzip-compressed",
        ]


def test_binary_data_on_stdin_and_in_gzip_is_no_text_log(tmp_path: Path) -> None:
    packed = tmp_path / "image.jsonl.gz"
    packed.write_bytes(gzip.compress(PNG * 100, mtime=0))
    for args, data in ((["-"], PNG * 100), ([str(packed)], None)):
        result = run_hostile("report", *args, "-f", "json", input=data)
        assert result.returncode == 2
        assert "not a text log (binary data)" in result.stderr.decode()


def test_utf16_is_told_apart_and_latin1_is_still_read(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    text = "timestamp,role,user_id\n2026-11-19T10:00:00Z,user,J\u00fcrgen M\u00fcller\n"
    (logs / "latin1.csv").parent.mkdir(parents=True)
    (logs / "latin1.csv").write_bytes(text.encode("latin-1"))
    (logs / "wide.csv").write_bytes(text.encode("utf-16"))
    document, _ = report_json(str(logs))
    assert document["input"]["records"] == 1
    assert document["input"]["skipped_files"] == [
        {
            "file": str(logs / "wide.csv"),
            "reason": "not a text log (UTF-16 or UTF-32 text; convert it to UTF-8)",
        }
    ]


def test_salvage_reads_every_gzip_member_and_leaves_out_the_cut_line(tmp_path: Path) -> None:
    from botistat.ingest.salvage import inflated_from

    path = tmp_path / "members.gz"
    members = gzip.compress(b"\xef\xbb\xbfa\nb\n", mtime=0) + gzip.compress(b"c\nlast", mtime=0)
    path.write_bytes(members)
    assert b"".join(inflated_from(path, 0)) == b"a\nb\nc\nlast"  # whole: its last line too
    assert b"".join(inflated_from(path, 2)) == b"b\nc\nlast"
    path.write_bytes(members[:-3])  # cut in the second member's trailer
    assert b"".join(inflated_from(path, 0)) == b"a\nb\nc\n"
