"""Block reading: blocks hold whole records, in order, with the right line numbers."""

from __future__ import annotations

import csv
import gzip
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botistat.core.errors import InputError
from botistat.ingest import resolve_sources
from botistat.ingest.blocks import UTF8_BOM, read_blocks, source_blocks

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


def test_truncated_gzip_is_an_input_error_after_its_whole_blocks(tmp_path: Path) -> None:
    """A gzip file cut short: the blocks before the cut arrive (read ahead by a thread), then
    the error is raised where the blocks are consumed, naming the file."""
    lines = b"".join(b'{"n": %d}\n' % i for i in range(20_000))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(lines)[:-200])
    source = resolve_sources([str(path)])[0]
    received = bytearray()
    with pytest.raises(InputError) as caught:
        for block, _ in source_blocks(source, quote=None, block_size=4096):
            received += block.data
    assert str(path) in caught.value.message()
    assert len(received) > 4096 * 10
    assert lines.startswith(bytes(received))


def test_reading_ahead_stops_when_the_consumer_does(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"n": 1}\n' * 100_000))
    source = resolve_sources([str(path)])[0]
    before = threading.active_count()
    blocks = source_blocks(source, quote=None, block_size=1024)
    first, _ = next(blocks)
    assert first.first_line == 1
    blocks.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before


def test_corrupt_gzip_is_an_input_error(tmp_path: Path) -> None:
    lines = b"".join(b'{"n": %d}\n' % i for i in range(20_000))
    packed = gzip.compress(lines)
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(packed[:2000] + b"\xff" * 500 + packed[2500:])
    source = resolve_sources([str(path)])[0]
    with pytest.raises(InputError) as caught:
        for _ in source_blocks(source, quote=None, block_size=4096):
            pass
    assert "cannot read input" in caught.value.message()


@given(
    lines=st.lists(st.text(alphabet="ab{}", max_size=30), min_size=1, max_size=200),
    size=st.integers(min_value=8, max_value=256),
    bom=st.booleans(),
    order=st.randoms(),
)
@settings(max_examples=40, deadline=None)
def test_mapped_blocks_know_their_line_numbers_in_any_order(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    size: int,
    bom: bool,
    order: Any,
) -> None:
    """Line numbers of a memory-mapped file are counted only when asked for, in any order
    (bad lines are reported as workers find them), and match a plain count."""
    data = "".join(line + "\n" for line in lines).encode()
    path = tmp_path_factory.mktemp("mapped") / "log.jsonl"
    path.write_bytes(UTF8_BOM + data if bom else data)
    blocks = [
        block
        for block, _ in source_blocks(resolve_sources([str(path)])[0], quote=None, block_size=size)
    ]
    assert b"".join(block.data for block in blocks) == data
    expected = []
    line = 1
    for block in blocks:
        expected.append(line)
        line += block.data.count(b"\n")
    asked = list(range(len(blocks)))
    order.shuffle(asked)
    assert {i: blocks[i].first_line for i in asked} == dict(enumerate(expected))


def test_file_cut_short_while_read_ends_its_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file shorter than the size taken before reading (cut while being read): the blocks
    hold what is there, and reading ends instead of going round for the rest."""
    import itertools
    import os
    import types

    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n')
    source = resolve_sources([str(path)])[0]
    monkeypatch.setattr(os, "fstat", lambda fd: types.SimpleNamespace(st_size=1000))
    blocks = source_blocks(source, quote=None, block_size=8)
    read = [block.data for block, _ in itertools.islice(blocks, 50)]
    assert read == [b'{"a": 1}\n', b'{"a": 2}\n']
