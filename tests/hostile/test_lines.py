"""Line-level hostile input: one bad line never costs more than one line.

Each test writes a real file and runs botistat as a subprocess (see :mod:`tests.hostile.conftest`),
except the two that count what the JSON Lines fallback hands to Polars: its cost is asserted as
work done, never as time taken.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from botistat.core.config import Config
from botistat.ingest.blocks import Block
from botistat.ingest.decoder import COUNT_FIELDS
from botistat.ingest.jsonl import PIECES, JsonlBlockParser
from botistat.ingest.mapping import FieldMapping
from tests.hostile.conftest import nonblank_lines, report_json, run_hostile


def message(i: int) -> dict[str, Any]:
    """The ``i``-th message of a chat: user and bot turns in turn, a second apart."""
    minute, second = divmod(i, 60)
    return {
        "timestamp": f"2026-11-19T{10 + minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
        "conversation_id": f"conv-{i // 8}",
        "role": "user" if i % 2 == 0 else "bot",
        "prompt_tokens": None if i % 2 == 0 else 100 + i % 7,
        "completion_tokens": None if i % 2 == 0 else 20 + i % 5,
        "ip": "81.2.69.142",
    }


def chat_lines(n: int) -> list[bytes]:
    return [json.dumps(message(i)).encode() for i in range(n)]


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def assert_lines_accounted(document: dict[str, Any], path: Path) -> None:
    """Every line is a message or a skipped line (the inputs here hold no other roles)."""
    summary = document["input"]
    assert summary["ignored"] == 0, summary
    assert summary["records"] + summary["skipped"] == nonblank_lines(path), summary


def examples(document: dict[str, Any]) -> list[str]:
    """The skipped examples, without the file name."""
    return [example.split(":", 1)[1] for example in document["input"]["skipped_examples"]]


# --- JSON Lines: the fallback for a block with bad lines --------------------------------------

JUNK: list[Callable[[bytes], bytes]] = [
    lambda line: line[: len(line) // 2],  # truncated
    lambda line: b"<<< garbage, not JSON >>>",
    lambda line: line.replace(b'"conv-', b'"conv-\xff\xfe', 1),  # invalid UTF-8
    lambda line: b"[1, 2, 3]",
]
GLUED: list[Callable[[bytes], bytes]] = [
    lambda line: line + line,  # two writers, one line
    lambda line: line[:-1] + b', "score": NaN}',
    lambda line: line.replace(b'"role"', b'"n": 1e999, "role"', 1),
]


def dirty_block(lines: int, every: int, kinds: list[Callable[[bytes], bytes]]) -> bytes:
    out: list[bytes] = []
    for i, line in enumerate(chat_lines(lines)):
        out.append(line)
        if i % every == every // 2:
            out.append(kinds[(i // every) % len(kinds)](line))
    return b"".join(line + b"\n" for line in out)


@pytest.fixture
def polars_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every input handed to Polars' JSON reader, in order."""
    sizes: list[int] = []
    read = pl.read_ndjson

    def counting(source: Any, **kwargs: Any) -> pl.DataFrame:
        sizes.append(len(source.getvalue()) if isinstance(source, io.BytesIO) else -1)
        return read(source, **kwargs)

    monkeypatch.setattr(pl, "read_ndjson", counting)
    return sizes


def default_parser() -> JsonlBlockParser:
    config = Config()
    return JsonlBlockParser(
        FieldMapping(config.fields), set(config.fields), frozenset(COUNT_FIELDS)
    )


def test_junk_lines_cost_one_more_read_of_the_block(polars_reads: list[int]) -> None:
    """1% of truncated, garbage, invalid UTF-8 and non-object lines: the block is read once
    more without them (it was split in halves down to single lines: 1,473 reads here)."""
    data = dirty_block(4000, 100, JUNK)
    parsed = default_parser().parse(Block(data, 1))
    assert parsed.frame.height == 4000
    assert len(parsed.bad) == 40
    assert len(polars_reads) == 2, polars_reads
    assert sum(polars_reads) < 2 * len(data)
    # The good lines keep their integer token counts, as in a clean block.
    assert parsed.frame.schema["prompt_tokens"] == pl.Int64


def test_lines_that_look_like_objects_cost_a_bounded_number_of_reads(
    polars_reads: list[int],
) -> None:
    """1% of lines that start and end like objects but are not readable (glued records,
    NaN, a number out of range) are found by reading the block in pieces and checking
    the lines of each piece refused: a number of reads bounded by the pieces."""
    data = dirty_block(4000, 100, GLUED)
    parsed = default_parser().parse(Block(data, 1))
    assert parsed.frame.height == 4000
    assert {bad.reason for bad in parsed.bad} == {"invalid JSON"}
    assert len(parsed.bad) == 40
    assert len(polars_reads) <= 3 + 2 * PIECES, len(polars_reads)
    assert sum(polars_reads) < 4 * len(data)


DEEP_ARRAY = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def test_deep_nesting_and_surrogate_escapes_next_to_bad_lines(tmp_path: Path) -> None:
    """In a block with bad lines (so the fallback checks every line): lines nested 10,000
    deep are skipped as such (Python's reader would raise RecursionError), an escape Polars
    refuses (a lone low surrogate) is invalid JSON, and a lone high surrogate, which Polars
    reads, is a record."""
    lines = chat_lines(12)
    surrogate = message(12) | {"text": "\ud800"}
    lines += [
        DEEP_ARRAY,
        DEEP_OBJECT,
        json.dumps(surrogate).encode(),
        json.dumps(message(13) | {"text": "\udc00"}).encode(),
        b'{"timestamp": "2026-11-19T10:00:14Z", "role": "us',
        json.dumps(message(15)).encode(),
    ]
    path = write_lines(tmp_path / "deep.jsonl", lines)
    document, stderr = report_json(str(path))
    assert document["input"]["skipped"] == 4, stderr
    assert examples(document) == [
        "13: nested too deeply",
        "14: nested too deeply",
        "16: invalid JSON",
        "17: invalid JSON",
    ]
    assert document["messages"]["total"] == 14
    assert_lines_accounted(document, path)


@pytest.mark.parametrize("line", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_strict_stops_at_a_deeply_nested_line(tmp_path: Path, line: bytes) -> None:
    path = write_lines(tmp_path / "deep.jsonl", [*chat_lines(3), line, *chat_lines(2)])
    result = run_hostile("report", str(path), "--strict", "-f", "json")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"botistat: error: malformed line: nested too deeply ({path}:4)",
        "  hint: without --strict such lines are skipped and counted",
    ]


# --- JSON Lines whose first line is an array ----------------------------------------------

FIRST_LINES = {
    "array": (b"[1, 2, 3]", "not a JSON object"),
    "array of a record": (b"[" + json.dumps(message(0)).encode() + b"]", "not a JSON object"),
    "bracketed text": (b"[2026-11-19 10:00:00] export started", "invalid JSON"),
}


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
@pytest.mark.parametrize("name", FIRST_LINES)
def test_a_first_line_that_is_an_array_is_one_bad_line(
    tmp_path: Path, name: str, stdin: bool
) -> None:
    first, reason = FIRST_LINES[name]
    path = write_lines(tmp_path / "chat.jsonl", [first, *chat_lines(6)])
    if stdin:
        document, _ = report_json("-", input=path.read_bytes())
    else:
        document, _ = report_json(str(path))
    assert document["input"]["skipped"] == 1
    assert examples(document) == [f"1: {reason}"]
    assert document["messages"]["total"] == 6
    assert_lines_accounted(document, path)


ARRAYS = {
    "pretty-printed": json.dumps([message(0), message(1)], indent=2).encode(),
    "pretty-printed, one record": json.dumps([message(0)], indent=2).encode(),
    "one line": json.dumps([message(0), message(1)]).encode(),
    "one record a line": b"[\n" + b",\n".join(chat_lines(3)) + b"\n]",
}


@pytest.mark.parametrize("name", ARRAYS)
def test_a_json_array_file_is_still_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_bytes(ARRAYS[name] + b"\n")
    result = run_hostile("report", str(path), "-f", "json")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"botistat: error: file is a JSON array, not JSON Lines ({path})",
        "  hint: write one JSON object per line (e.g. with: jq -c '.[]' FILE)",
    ]


# --- CSV: huge fields and quotes left open ------------------------------------------------

CSV_COLUMNS = ["timestamp", "conversation_id", "role", "text", "prompt_tokens"]


def csv_rows(n: int, separator: str = ",") -> list[bytes]:
    rows = []
    for i in range(n):
        record = message(i)
        cells = [record[c] for c in ("timestamp", "conversation_id", "role")]
        cells += [f"message {i}", str(record["prompt_tokens"] or "")]
        rows.append(separator.join(cells).encode())
    return rows


def write_csv(path: Path, rows: list[bytes], separator: str = ",") -> Path:
    return write_lines(path, [separator.join(CSV_COLUMNS).encode(), *rows])


def assert_rows_accounted(document: dict[str, Any], path: Path) -> None:
    """Every line but the header is a message or a skipped line."""
    summary = document["input"]
    assert summary["ignored"] == 0, summary
    assert summary["records"] + summary["skipped"] == nonblank_lines(path) - 1, summary


def test_csv_quoted_field_over_128_kib_next_to_a_malformed_row(tmp_path: Path) -> None:
    """Python's csv module (the reader of blocks with bad rows) refuses fields over 128 KiB
    unless told otherwise: a long message must not crash the report."""
    rows = csv_rows(8)
    rows[2] = rows[2].replace(b"message 2", b'"' + b"long, " * 40_000 + b'"')
    rows[5] = b"2026-11-19T10:00:05Z,conv-0,bot"
    path = write_csv(tmp_path / "chat.csv", rows)
    document, _ = report_json(str(path))
    assert document["input"]["skipped"] == 1
    assert examples(document) == ["7: 3 fields, expected 5"]
    assert document["messages"]["total"] == 7
    assert_rows_accounted(document, path)


OPEN_QUOTES = {
    # Runs to the end of the file.
    "never closed": (3, b'2026-11-19T10:00:03Z,conv-0,bot,"never closed,101'),
    # Closed by the opening quote of a quoted field further down, which no separator follows.
    "closed further down": (3, b'2026-11-19T10:00:03Z,conv-0,bot,"closed further down,101'),
}


@pytest.mark.parametrize("separator", [",", "\t"], ids=["csv", "tsv"])
@pytest.mark.parametrize("name", OPEN_QUOTES)
def test_csv_quote_left_open_costs_one_line(tmp_path: Path, name: str, separator: str) -> None:
    index, row = OPEN_QUOTES[name]
    rows = csv_rows(12, separator)
    rows[index] = row.replace(b",", separator.encode())
    if name == "closed further down":
        rows[8] = rows[8].replace(b"message 8", b'"message 8, quoted"')
    path = write_csv(tmp_path / ("chat.tsv" if separator == "\t" else "chat.csv"), rows, separator)
    document, _ = report_json(str(path))
    assert document["input"]["skipped"] == 1
    assert examples(document) == [f"{index + 2}: unterminated quote"]
    assert document["messages"]["total"] == 11
    assert_rows_accounted(document, path)


def test_csv_quote_left_open_in_a_long_file(tmp_path: Path) -> None:
    """A quote left open near the start of a file of 30,000 rows: every other row is read
    (the rest of the block after it is read by Polars again)."""
    rows = csv_rows(30_000)
    rows[5] = b'2026-11-19T10:00:05Z,conv-0,bot,"open,105'
    rows[20_000] = rows[20_000].replace(b"message", b'"message', 1)
    path = write_csv(tmp_path / "chat.csv", rows)
    document, _ = report_json(str(path))
    assert document["input"]["skipped"] == 2
    assert examples(document) == ["7: unterminated quote", "20002: unterminated quote"]
    assert document["messages"]["total"] == 29_998
    assert_rows_accounted(document, path)


def test_csv_quoted_newlines_stay_one_record(tmp_path: Path) -> None:
    """A quoted field holding newlines is a record, not a quote left open (the same rows
    with a stray quote would be skipped line by line)."""
    rows = csv_rows(6)
    rows[2] = rows[2].replace(b"message 2", b'"three\nlines, quoted\nhere"')
    path = write_csv(tmp_path / "chat.csv", rows)
    document, _ = report_json(str(path))
    assert document["input"]["skipped"] == 0
    assert document["messages"]["total"] == 6


# --- inspect -------------------------------------------------------------------------------

INSPECT_BAD_LINES = {
    "deep array": (DEEP_ARRAY, "nested too deeply"),
    "deep object": (DEEP_OBJECT, "nested too deeply"),
    # Readable by Python's JSON reader, too deep to list its fields by recursion.
    "deep for Python": (b'{"a": ' + b"[" * 900 + b"]" * 900 + b"}", "nested too deeply"),
    "lone high surrogate": (
        json.dumps(message(2) | {"text": "\ud800"}).encode(),
        "lone surrogate escape",
    ),
    "lone low surrogate": (
        json.dumps(message(2) | {"text": "x\udfff"}).encode(),
        "lone surrogate escape",
    ),
}


@pytest.mark.parametrize("name", INSPECT_BAD_LINES)
def test_inspect_skips_a_line_it_cannot_read_and_says_so(tmp_path: Path, name: str) -> None:
    line, reason = INSPECT_BAD_LINES[name]
    path = write_lines(tmp_path / "chat.jsonl", [*chat_lines(2), line, *chat_lines(5)])
    result = run_hostile("inspect", str(path))
    assert result.returncode == 0
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    summary = f"skipped 1 malformed line(s); first: line 3: {reason}"
    assert stdout.splitlines()[:2] == [f"# {path}: 7 records sampled", f"# {summary}"]
    assert "  timestamp: timestamp\n" in stdout
    assert stderr.splitlines() == [f"botistat: warning: {path}: {summary}"]


def test_inspect_reads_a_csv_field_over_128_kib(tmp_path: Path) -> None:
    rows = csv_rows(6)
    rows[1] = rows[1].replace(b"message 1", b'"' + b"long, " * 40_000 + b'"')
    path = write_csv(tmp_path / "chat.csv", rows)
    result = run_hostile("inspect", str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines()[0] == f"# {path}: 6 records sampled"
    assert result.stderr == b""
