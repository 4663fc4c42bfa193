"""Block reading: blocks hold whole records, in order, with the right line numbers."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from botistat.ingest.blocks import read_blocks

lines = st.lists(st.text(alphabet='ab{}":, x', max_size=12), max_size=40)


@given(lines=lines, size=st.integers(min_value=1, max_value=64))
def test_jsonl_blocks_are_whole_lines_in_order(lines: list[str], size: int) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    blocks = list(read_blocks(io.BytesIO(data), name="t", block_size=size))
    assert b"".join(b.data for b in blocks) == data
    assert all(block.data.endswith(b"\n") for block in blocks)


@given(lines=lines, size=st.integers(min_value=1, max_value=64))
def test_line_numbers_follow_the_file(lines: list[str], size: int) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    expected_line = 1
    for block in read_blocks(io.BytesIO(data), name="t", block_size=size):
        assert block.first_line == expected_line
        expected_line += block.data.count(b"\n")


def test_last_line_without_newline_is_kept() -> None:
    blocks = list(read_blocks(io.BytesIO(b'{"a": 1}\n{"a": 2}'), name="t", block_size=4))
    assert b"".join(b.data for b in blocks) == b'{"a": 1}\n{"a": 2}\n'


def test_byte_order_mark_is_dropped() -> None:
    blocks = list(read_blocks(io.BytesIO(b'\xef\xbb\xbf{"a": 1}\n'), name="t"))
    assert blocks[0].data == b'{"a": 1}\n'


rows = st.lists(
    st.lists(st.text(alphabet='ab,"\n x', max_size=8), min_size=3, max_size=3), max_size=30
)


@settings(max_examples=200)
@given(rows=rows, size=st.integers(min_value=1, max_value=48))
def test_csv_blocks_never_cut_a_quoted_field(rows: list[list[str]], size: int) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    data = out.getvalue().encode()
    blocks = list(read_blocks(io.BytesIO(data), name="t", quote=b'"', block_size=size))
    assert b"".join(b.data for b in blocks) == data
    parsed = []
    for block in blocks:
        # Each block parses on its own into whole rows.
        parsed += list(csv.reader(io.StringIO(block.data.decode(), newline="")))
    assert parsed == [row for row in rows]
