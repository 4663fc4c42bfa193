"""JSON Lines and CSV block parsers: good rows kept in order, bad lines found exactly."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botistat.core.errors import InputError
from botistat.ingest.blocks import Block
from botistat.ingest.csv import CsvBlockParser
from botistat.ingest.jsonl import parse_jsonl_block
from botistat.ingest.mapping import FieldMapping

MAPPING = FieldMapping({"timestamp": "ts", "role": "role", "prompt_tokens": "usage.in"})
WANTED = {"timestamp", "role", "prompt_tokens"}
SCHEMA = MAPPING.json_schema(WANTED)
EXTRACT = MAPPING.json_fields(WANTED)

BAD_LINES = [
    '{"ts": 1, "role": ',  # truncated
    "not json at all",
    "[1, 2, 3]",  # not an object
    "42",
    "null",
    '{"ts": 1, "usage": 5}',  # a scalar where the mapping expects an object
    '{"ts": 1} trailing',
]


def good_line(i: int) -> str:
    record = {"ts": str(i), "role": "user", "usage": {"in": i, "other": [1]}, "x": {"y": 1}}
    return json.dumps(record)


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.integers(min_value=-len(BAD_LINES), max_value=20), max_size=120))
def test_jsonl_bad_lines_are_isolated(kinds: list[int]) -> None:
    lines, expected_rows, expected_bad = [], [], []
    for number, kind in enumerate(kinds, start=1):
        if kind < 0:
            lines.append(BAD_LINES[-kind - 1])
            expected_bad.append(number)
        else:
            lines.append(good_line(number))
            expected_rows.append(number)
    block = Block("".join(line + "\n" for line in lines).encode(), 1)
    parsed = parse_jsonl_block(block, SCHEMA, EXTRACT)
    assert [bad.line for bad in parsed.bad] == expected_bad
    assert parsed.frame["timestamp"].to_list() == [str(n) for n in expected_rows]
    assert parsed.frame["prompt_tokens"].to_list() == [str(n) for n in expected_rows]
    assert parsed.row_lines() == expected_rows


#: Lines Polars refuses that Python's JSON reader takes, or the other way round, unless held to
#: Polars' limits; and lines that look like objects without being readable ones.
TRICKY_LINES = [
    '{"ts": NaN}',
    '{"ts": 1e400}',
    '{"ts": 1e-400, "role": -0}',
    f'{{"ts": {2**128}}}',
    f'{{"ts": {2**128 - 1}, "role": {-(2**127)}}}',
    '{"ts": "\\ud800"}',  # a lone high surrogate: Polars reads it
    '{"ts": "\\udc00"}',
    '{"x": "\\ud800\\u0041"}',
    '{"ts": "\\ud83d\\ude00"}',
    '{"ts": "\\\\udc00"}',  # an escaped backslash: no escape
    '{"ts": 1}{"ts": 2}',
    '{"ts": 1,}',
    '{"ts": "a\tb"}',
    '{"usage": [1], "ts": 2}',
    '{"usage": {"in": {"deep": 1}}, "ts": 3}',
    '{"usage": 1, "usage": {"in": 2}}',  # Polars keeps the first of two keys
    '{"a": ' + "[" * 1010 + "]" * 1010 + "}",  # deeper than Python's limit, within Polars'
    '{"a": ' + "[" * 1100 + "]" * 1100 + "}",
    "[" * 3000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "\f" + good_line(0),
    good_line(0) + "\f",
    " " + good_line(0) + "\r",
]


def polars_line_by_line(lines: list[str]) -> tuple[list[tuple[int, tuple[Any, ...]]], list[int]]:
    """Each nonblank line read alone by Polars: the rows it reads, and the lines it refuses."""
    rows, bad = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            frame = pl.read_ndjson(io.BytesIO(line.encode()), schema=SCHEMA).select(EXTRACT)
        except (pl.exceptions.PolarsError, ValueError):
            bad.append(number)
        else:
            rows.append((number, frame.row(0)))
    return rows, bad


@settings(max_examples=40, deadline=None)
@given(
    kinds=st.lists(
        st.integers(min_value=-len(TRICKY_LINES) - len(BAD_LINES), max_value=12), max_size=80
    )
)
def test_jsonl_fallback_reads_what_polars_reads_line_by_line(kinds: list[int]) -> None:
    """Whatever sorts the lines of a refused block, Polars' verdict on each line alone is
    the rule."""
    tricky = TRICKY_LINES + BAD_LINES
    lines = [tricky[-kind - 1] if kind < 0 else good_line(n) for n, kind in enumerate(kinds)]
    parsed = parse_jsonl_block(Block("".join(f"{x}\n" for x in lines).encode(), 1), SCHEMA, EXTRACT)
    rows, bad = polars_line_by_line(lines)
    assert [line.line for line in parsed.bad] == bad
    assert list(zip(parsed.row_lines(), parsed.frame.rows(), strict=True)) == rows


def test_jsonl_lines_not_utf8_are_found_wherever_they_are() -> None:
    """First, adjacent, longer than the window the block is decoded in, and last."""
    good = [good_line(n).encode() for n in range(12)]
    long_bad = b'{"ts": "' + b"x" * 10_000 + b'\xe9"}'
    lines = [b'{"ts": "\xff"}', *good[:3], b"\xc3(", b"\xed\xa0\x80", *good[3:6], long_bad]
    lines += [*good[6:], b'{"ts": "caf\xc3"}']
    text = b"\n".join(lines) + b"\n"
    parsed = parse_jsonl_block(Block(text, 1), SCHEMA, EXTRACT)
    bad = [n for n, line in enumerate(lines, start=1) if line not in good]
    assert [(b.line, b.reason) for b in parsed.bad] == [(n, "not valid UTF-8") for n in bad]
    assert parsed.frame.height == len(good)


def test_jsonl_reasons_and_blank_lines() -> None:
    text = f"{good_line(1)}\n\n   \nnot json\n[1]\n{good_line(6)}\n"
    parsed = parse_jsonl_block(Block(text.encode(), 10), SCHEMA, EXTRACT)
    assert [(b.line, b.reason) for b in parsed.bad] == [
        (13, "invalid JSON"),
        (14, "not a JSON object"),
    ]
    assert parsed.row_lines() == [10, 15]


def test_jsonl_clean_block_line_numbers_skip_blank_lines() -> None:
    text = f"{good_line(1)}\n\n{good_line(3)}\n"
    parsed = parse_jsonl_block(Block(text.encode(), 1), SCHEMA, EXTRACT)
    assert parsed.bad == []
    assert parsed.row_lines() == [1, 3]


def test_jsonl_values_of_any_type_become_text() -> None:
    text = '{"ts": 1763546400.5, "role": true, "usage": {"in": "12"}}\n'
    frame = parse_jsonl_block(Block(text.encode(), 1), SCHEMA, EXTRACT).frame
    assert frame.row(0, named=True) == {
        "prompt_tokens": "12",
        "role": "true",
        "timestamp": "1763546400.5",
    }


def make_csv_parser(separator: str = ",") -> CsvBlockParser:
    return CsvBlockParser(
        name="t.csv",
        separator=separator,
        mapping=FieldMapping({"timestamp": "ts", "role": "role", "prompt_tokens": "tokens"}),
        wanted=WANTED,
        required=("timestamp", "role"),
    )


cells = st.text(alphabet='ab ,"\n1', max_size=6)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(cells, cells, cells, st.integers(min_value=-1, max_value=1)), max_size=40
    )
)
def test_csv_rows_with_wrong_field_count_are_skipped(
    rows: list[tuple[str, str, str, int]],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["role", "extra", "ts", "tokens"])
    expected, expected_bad, line = [], [], 2
    for role, extra, ts, width_change in rows:
        full = [role or "r", extra, ts or "t", "5"]
        row = full[: len(full) + width_change] if width_change <= 0 else [*full, "x"]
        before = out.tell()
        writer.writerow(row)
        written = out.getvalue()[before:]
        if width_change == 0:
            expected.append((full[2], full[0], full[3]))
        else:
            expected_bad.append(line)
        line += written.count("\n")
    parser = make_csv_parser()
    parsed = parser.parse(Block(out.getvalue().encode(), 1))
    got = list(
        zip(
            parsed.frame["timestamp"].to_list(),
            parsed.frame["role"].to_list(),
            parsed.frame["prompt_tokens"].to_list(),
            strict=True,
        )
    )
    # Empty cells read as missing values.
    assert got == [tuple(v if v else None for v in row) for row in expected]
    assert [bad.line for bad in parsed.bad] == expected_bad


def test_csv_fast_path_and_quoted_newlines_agree() -> None:
    header = "ts,role,tokens\n"
    plain = header + "1,user,3\n2,bot,4\n"
    quoted = header + '1,user,3\n2,"bo\nt",4\n'
    fast = make_csv_parser().parse(Block(plain.encode(), 1))
    exact = make_csv_parser().parse(Block(quoted.encode(), 1))
    assert fast.frame["role"].to_list() == ["user", "bot"]
    assert exact.frame["role"].to_list() == ["user", "bo\nt"]
    assert fast.row_lines() == exact.row_lines() == [2, 3]


def test_csv_missing_optional_column_and_tsv() -> None:
    parser = make_csv_parser("\t")
    parsed = parser.parse(Block(b"role\tts\nuser\t5\n", 1))
    assert parsed.frame.columns == ["role", "timestamp"]
    assert parsed.frame.row(0) == ("user", "5")


def test_csv_missing_required_column() -> None:
    with pytest.raises(InputError, match="'ts'"):
        make_csv_parser().parse(Block(b"role,tokens\nuser,5\n", 1))


def test_csv_blocks_after_the_first_use_the_header() -> None:
    parser = make_csv_parser()
    parser.parse(Block(b"tokens,ts,role\n1,2,user\n", 1))
    later = parser.parse(Block(b"7,8,bot\n", 3))
    assert later.frame.row(0, named=True) == {
        "prompt_tokens": "7",
        "role": "bot",
        "timestamp": "8",
    }
    assert isinstance(later.frame, pl.DataFrame)


def test_progress_reports_every_byte_read(tmp_path: Path) -> None:
    import gzip as gz

    from botistat.core.config import Config
    from botistat.ingest import resolve_sources, scan_sources

    plain = tmp_path / "a.jsonl"
    plain.write_text(
        "".join(good_line(i).replace('"ts"', '"timestamp"') + "\n" for i in range(500))
    )
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gz.compress(plain.read_bytes()))
    seen: list[int] = []
    scan = scan_sources(
        resolve_sources([str(plain), str(packed)]), Config(), progress=seen.append, block_size=2048
    )
    assert scan.frame.select(pl.len()).collect().item() == 1000
    assert len(seen) > 2
    assert sum(seen) == plain.stat().st_size + packed.stat().st_size


def quoted_csv(rows: int, tail: int = 0) -> bytes:
    """CSV whose every third record has a quoted field spanning two lines (the second one
    ``tail`` characters longer)."""
    lines = ["timestamp,role,prompt_tokens,note"]
    for i in range(rows):
        second = "line two, with a comma" + "x" * tail
        note = f'"line one of {i}\n{second}"' if i % 3 == 0 else f"plain {i}"
        lines.append(f"{1_790_000_000 + i},{'user' if i % 2 else 'bot'},{i},{note}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("name", ["logs.csv", "logs.log", "logs.log.gz"])
def test_csv_with_any_name_is_cut_outside_quotes(tmp_path: Path, name: str) -> None:
    """The format is known before the input is cut into blocks, so a CSV file without a
    telling extension still has its blocks end outside quoted fields."""
    import gzip as gz

    from botistat.core.config import Config
    from botistat.ingest import resolve_sources, scan_sources

    data = quoted_csv(600)
    path = tmp_path / name
    path.write_bytes(gz.compress(data) if name.endswith(".gz") else data)
    scan = scan_sources(resolve_sources([str(path)]), Config(), block_size=1024)
    tokens = scan.frame.select(pl.col("prompt_tokens").sum(), pl.len()).collect().row(0)
    assert scan.stats.summary().skipped == 0
    assert tokens == (sum(range(600)), 600)


def test_csv_from_stdin_is_cut_outside_quotes() -> None:
    """Standard input is peeked at, so a piped CSV bigger than one block keeps its quoted
    multi-line fields whole, plain or gzip-compressed (unsniffed, it was cut in 16 MB blocks
    at any newline)."""
    import gzip as gz

    from tests.conftest import run_botistat

    rows = 200_000
    # Most bytes lie inside quotes: a cut at any newline would fall in a quoted field.
    data = quoted_csv(rows, tail=300)
    assert len(data) > 17 << 20
    for piped in (data, gz.compress(data, compresslevel=1)):
        result = run_botistat("report", "-", "--format", "json", input=piped)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["input"]["skipped"] == 0
        assert doc["input"]["records"] == rows
        assert doc["tokens"]["prompt"] == sum(range(rows))


def test_jsonl_counts_read_as_integers_until_an_input_writes_them_otherwise() -> None:
    from botistat.ingest.jsonl import JsonlBlockParser
    from botistat.ingest.normalize import _counts

    parser = JsonlBlockParser(MAPPING, WANTED, frozenset({"prompt_tokens"}))

    def counts(lines: list[str]) -> tuple[pl.DataType, list[int | None]]:
        parsed = parser.parse(Block("".join(line + "\n" for line in lines).encode(), 1))
        column = parsed.frame.get_column("prompt_tokens")
        return column.dtype, _counts(column).to_list()

    line = '{{"ts": "1", "role": "user", "usage": {{"in": {}}}}}'
    # A malformed line does not make the parser give up on integers, nor the block's other
    # lines: they are typed as in a clean block.
    assert counts([line.format(5), "not json", line.format("null")]) == (pl.Int64, [5, None])
    assert counts([line.format(5), line.format(6)]) == (pl.Int64, [5, 6])
    assert counts([line.format('"7"'), line.format(2.5)]) == (pl.String, [7, 2])
    # Text seen once: the rest of the input is read as text.
    assert counts([line.format(8)]) == (pl.String, [8])


def _ts_role_tokens_parser(integers: frozenset[str] = frozenset()) -> CsvBlockParser:
    """A parser of ``ts,role,tokens`` CSV."""
    return CsvBlockParser(
        name="t.csv",
        separator=",",
        mapping=FieldMapping({"timestamp": "ts", "role": "role", "prompt_tokens": "tokens"}),
        wanted=WANTED,
        required=("timestamp", "role"),
        integers=integers,
    )


def test_csv_counts_read_as_integers_until_an_input_writes_them_otherwise() -> None:
    from botistat.ingest.normalize import _counts

    parser = _ts_role_tokens_parser(frozenset({"prompt_tokens"}))

    def counts(text: str) -> tuple[pl.DataType, list[int | None]]:
        column = parser.parse(Block(text.encode(), 1)).frame.get_column("prompt_tokens")
        return column.dtype, _counts(column).to_list()

    assert counts("ts,role,tokens\n1,user,5\n2,bot,\n") == (pl.Int64, [5, None])
    # A row with too few fields goes to the exact reader; integers stay on.
    assert counts("3,user\n4,bot,6\n") == (pl.String, [6])
    assert counts('5,user,7\n6,bot,"8"\n') == (pl.Int64, [7, 8])
    assert counts("7,user, 9\n8,bot,2.5\n") == (pl.String, [9, 2])
    assert counts("9,user,10\n") == (pl.String, [10])


def test_csv_short_row_inside_a_block_without_quotes_is_skipped() -> None:
    # Polars pads a short row with nulls unless it comes first: the parser must notice it
    # wherever it is, and tell it from a row whose last field is merely empty.
    parser = _ts_role_tokens_parser()
    parser.take_header(Block(b"ts,role,tokens\n", 1))
    parsed = parser.parse(Block(b"1,user,5\n2,bot\n3,user,\n4,bot,6\n", 2))
    assert parsed.frame.get_column("timestamp").to_list() == ["1", "3", "4"]
    assert [(bad.line, bad.reason) for bad in parsed.bad] == [(3, "2 fields, expected 3")]
    # Every row complete, the last column never empty: read as it is.
    parsed = parser.parse(Block(b"5,user,7\n6,bot,8\n", 6))
    assert parsed.frame.get_column("prompt_tokens").to_list() == ["7", "8"]
    assert parsed.bad == []


@pytest.mark.parametrize("hand_back_lines", [1, 3])
def test_csv_rest_after_an_open_quote_is_read_alike_by_polars(
    monkeypatch: pytest.MonkeyPatch, hand_back_lines: int
) -> None:
    """After a quote left open, the rest of the block may go back to Polars: the rows, their
    lines and the bad lines are those of reading it all with Python's csv module."""
    import botistat.ingest.csv as csv_module

    rows = [f"{i},user,{i}" for i in range(12)]
    rows[1] = '1,user,"open'
    rows[4] = '4,bot,"two\nlines"'
    rows[6] = "6,user"
    rows[8] = '8,bot,"open again'
    text = ("ts,role,tokens\n" + "\n".join(rows) + "\n").encode()

    def parse() -> tuple[list[tuple[Any, ...]], list[int], list[tuple[int, str]]]:
        parsed = _ts_role_tokens_parser(frozenset({"prompt_tokens"})).parse(Block(text, 1))
        frame = parsed.frame.with_columns(pl.all().cast(pl.String))
        return frame.rows(), parsed.row_lines(), [(b.line, b.reason) for b in parsed.bad]

    monkeypatch.setattr(csv_module, "HAND_BACK_LINES", 10**9)
    whole = parse()
    monkeypatch.setattr(csv_module, "HAND_BACK_LINES", hand_back_lines)
    assert parse() == whole
    assert whole[2] == [
        (3, "unterminated quote"),
        (9, "2 fields, expected 3"),
        (11, "unterminated quote"),
    ]
    assert whole[1] == [2, 4, 5, 6, 8, 10, 12, 13, 14]
