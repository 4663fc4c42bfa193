"""Parse JSON Lines blocks with Polars, isolating malformed lines without slowing clean ones.

The fast path hands a whole block to Polars' native reader. Polars rejects the whole block when
one line is bad, so only then the block is split in halves, recursively, down to small runs that
are parsed line by line. A few bad lines cost a few extra parses of shrinking pieces; a clean
block costs one parse.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Final

from botistat.ingest.blocks import Block
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.parsed import BadLine, IntegersFirst, ParsedBlock, nonblank_line_numbers

if TYPE_CHECKING:
    import polars as pl

#: Below this many lines, a failing piece is parsed line by line instead of split again.
LINE_BY_LINE_BELOW: Final = 32


class JsonlBlockParser:
    """Parses the blocks of one JSON Lines input, token counts read as integers first (see
    :class:`~botistat.ingest.parsed.IntegersFirst`); a block that fails both ways holds
    malformed lines."""

    def __init__(self, mapping: FieldMapping, wanted: set[str], integers: frozenset[str]):
        self._schema = mapping.json_schema(wanted)
        self._integer_schema = mapping.json_schema(wanted, integers & wanted)
        self._extract = mapping.json_fields(wanted)
        self._integers_first = IntegersFirst(bool(integers & wanted))

    def parse(self, block: Block) -> ParsedBlock:
        def as_integers() -> ParsedBlock:
            frame = _read(block.data, self._integer_schema)
            return ParsedBlock(
                frame.select(self._extract),
                lambda: nonblank_line_numbers(block.data, block.first_line),
            )

        return self._integers_first.read(
            as_integers,
            lambda: parse_jsonl_block(block, self._schema, self._extract),
            # Lines that parse as text were fine: the counts were what failed.
            counts_were_text=lambda parsed: not parsed.bad,
        )


def parse_jsonl_block(
    block: Block, schema: dict[str, pl.DataType], extract: list[pl.Expr]
) -> ParsedBlock:
    """Parse one block into canonical string columns; see the module doc for bad lines."""
    import polars as pl

    try:
        frame = _read(block.data, schema)
    except (pl.exceptions.PolarsError, ValueError):
        return _isolate_bad_lines(block, schema, extract)
    return ParsedBlock(
        frame.select(extract), lambda: nonblank_line_numbers(block.data, block.first_line)
    )


def _read(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    import polars as pl

    if not schema:
        # Nothing to extract (every wanted field is absent from the mapping's view): still
        # validate the lines, with a schema that reads nothing.
        schema = {"\x00botistat_none": pl.String()}
    return pl.read_ndjson(io.BytesIO(data), schema=schema)


def _isolate_bad_lines(
    block: Block, schema: dict[str, pl.DataType], extract: list[pl.Expr]
) -> ParsedBlock:
    import polars as pl

    numbered = [
        (block.first_line + i, line)
        for i, line in enumerate(block.data.split(b"\n"))
        if line.strip()
    ]
    frames: list[pl.DataFrame] = []
    good_lines: list[int] = []
    bad: list[BadLine] = []

    def parse(lo: int, hi: int) -> None:
        piece = numbered[lo:hi]
        try:
            frame = _read(b"\n".join(line for _, line in piece), schema)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            if hi - lo == 1:
                bad.append(BadLine(piece[0][0], _reason(exc, piece[0][1])))
            elif hi - lo <= LINE_BY_LINE_BELOW:
                for i in range(lo, hi):
                    parse(i, i + 1)
            else:
                mid = (lo + hi) // 2
                parse(lo, mid)
                parse(mid, hi)
            return
        frames.append(frame)
        good_lines.extend(number for number, _ in piece)

    parse(0, len(numbered))
    if frames:
        frame = pl.concat(frames, how="vertical")
    else:
        frame = pl.DataFrame(schema=schema or {"\x00botistat_none": pl.String()})
    return ParsedBlock(frame.select(extract), lambda: good_lines, bad)


def _reason(exc: Exception, line: bytes) -> str:
    text = str(exc)
    if "expected to contain JSON object" in text:
        return "not a JSON object"
    if "error parsing" in text or "Syntax" in text or "TapeError" in text:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "not valid UTF-8"
        return "invalid JSON"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"unexpected value ({first[:120]})"
