"""Parse CSV/TSV blocks with Polars, counting rows with the wrong number of fields.

Polars quietly pads a short row with nulls, so each block's rows are checked before they are
trusted. A block without quotes is read whole (Polars refuses a row with too many fields); a
null in its last column may mean a short row, and then its separators are counted: every row
has as many fields as the header only if there are ``rows * (fields - 1)`` of them. A block
with quotes is checked line by line with one vectorized regular expression. Only a block
that fails (a bad row, or a quoted field that spans lines) is read with Python's ``csv``
module, which knows exactly where each record starts and how many fields it has.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from botistat.core.errors import InputError
from botistat.ingest.blocks import Block
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.parsed import BadLine, IntegersFirst, ParsedBlock, nonblank_line_numbers

if TYPE_CHECKING:
    import polars as pl

QUOTE = '"'


class CsvBlockParser:
    """Parses the blocks of one CSV/TSV input; the first block starts with the header."""

    def __init__(
        self,
        *,
        name: str,
        separator: str,
        mapping: FieldMapping,
        wanted: set[str],
        required: tuple[str, ...],
        integers: frozenset[str] = frozenset(),
    ) -> None:
        self._name = name
        self._separator = separator
        self._mapping = mapping
        self._wanted = wanted
        self._required = required
        self._integers = integers
        self._header: list[str] | None = None
        self._columns: dict[str, str] = {}
        #: The read schema of every header column, with token counts as integers and not.
        self._schemas: dict[bool, dict[str, pl.DataType]] = {}
        self._line_pattern = ""
        self._integers_first = IntegersFirst(bool(integers))

    def parse(self, block: Block) -> ParsedBlock:
        return self._parse_rows(self.take_header(block))

    def take_header(self, block: Block) -> Block:
        """Learn the header from the input's first block, if not yet known; the rest of it."""
        if self._header is not None:
            return block
        return Block(*self._read_header(block.data, block.first_line))

    def _read_header(self, data: bytes, first_line: int) -> tuple[bytes, int]:
        import polars as pl

        end = data.find(b"\n") + 1 or len(data)
        text = data[:end].decode("utf-8", "replace").strip("\r\n")
        header = next(csv.reader([text], delimiter=self._separator), [])
        header = _unique([column.strip() for column in header])
        if not any(header):
            raise InputError("CSV file has an empty header line", f"{self._name}:{first_line}")
        self._header = header
        self._columns = self._mapping.csv_columns(header, self._wanted)
        counts = {self._columns[n] for n in self._integers if n in self._columns}
        self._schemas = {
            integers: {
                column: pl.Int64() if integers and column in counts else pl.String()
                for column in header
            }
            for integers in (True, False)
        }
        for name in self._required:
            if name not in self._columns:
                raise InputError(
                    f"required field {self._mapping.paths[name]!r} ({name}) is not a column",
                    self._name,
                    f"columns are: {', '.join(header)}; map yours in the config under fields:",
                )
        sep = re.escape(self._separator)
        field = f'(?:"(?:[^"]|"")*"|[^{sep}"\\r\\n]*)'
        self._line_pattern = f"^{field}(?:{sep}{field}){{{len(header) - 1}}}\\r?$"
        return data[end:], first_line + 1

    def _parse_rows(self, block: Block) -> ParsedBlock:
        def lines() -> list[int]:
            return nonblank_line_numbers(block.data, block.first_line)

        if QUOTE.encode() not in block.data:
            frame = self._read_unquoted(block.data)
            if frame is not None:
                return ParsedBlock(frame, lines)
        elif self._quoted_lines_fit(block.data):
            return ParsedBlock(self._read_fast(block.data), lines)
        return self._read_exact(block)

    def _read_unquoted(self, data: bytes) -> pl.DataFrame | None:
        """A block without quotes, if every nonblank line has as many fields as the header.

        Without quotes each line is one row, and Polars refuses a row with too many fields
        when it reads every column; a row with too few it pads with nulls. So if the last
        column has no null, no row is short. Otherwise the separators tell: all rows hold
        exactly ``width - 1`` only if the block's count is ``rows * (width - 1)`` (counting
        them takes a third as long as the read, holding Python's lock).
        """
        import polars as pl

        assert self._header is not None
        try:
            frame = self._read(data, quote=None, columns=None)
        except pl.exceptions.PolarsError:
            return None
        may_be_short = not frame.height or frame.get_column(self._header[-1]).null_count() > 0
        if may_be_short and data.count(self._separator.encode()) != frame.height * (
            len(self._header) - 1
        ):
            return None
        return self._canonical(frame)

    def _quoted_lines_fit(self, data: bytes) -> bool:
        """Whether every nonblank line of a block with quotes matches the line pattern."""
        import polars as pl

        lines = pl.Series([data.decode("utf-8", "replace")]).str.split("\n").explode()
        nonblank = lines.str.strip_chars().str.len_bytes() > 0
        return bool(lines.filter(nonblank).str.contains(self._line_pattern).all())

    def _read_fast(self, data: bytes) -> pl.DataFrame:
        return self._canonical(self._read(data, quote=QUOTE, columns=self._positions()))

    def _read(self, data: bytes, *, quote: str | None, columns: list[int] | None) -> pl.DataFrame:
        return self._integers_first.read(
            lambda: self._read_as(data, quote, columns, integers=True),
            lambda: self._read_as(data, quote, columns, integers=False),
        )

    def _read_as(
        self, data: bytes, quote: str | None, columns: list[int] | None, *, integers: bool
    ) -> pl.DataFrame:
        import polars as pl

        assert self._header is not None
        frame = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            schema=self._schemas[integers],
            columns=columns,
            separator=self._separator,
            quote_char=quote,
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
        # Blank lines come back as all-null rows; they are not records.
        return frame.filter(pl.any_horizontal(pl.all().is_not_null()))

    def _read_exact(self, block: Block) -> ParsedBlock:
        import polars as pl

        assert self._header is not None
        text = io.StringIO(block.data.decode("utf-8", "replace"), newline="")
        reader = csv.reader(text, delimiter=self._separator, quotechar=QUOTE, strict=False)
        width = len(self._header)
        positions = self._positions()
        rows: list[list[str]] = []
        good_lines: list[int] = []
        bad: list[BadLine] = []
        start = 1
        for record in reader:
            line = block.first_line + start - 1
            start = reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != width:
                bad.append(BadLine(line, f"{len(record)} fields, expected {width}"))
                continue
            rows.append([record[i] for i in positions])
            good_lines.append(line)
        columns = [self._header[i] for i in positions]
        frame = pl.DataFrame(
            rows, schema={c: pl.String() for c in columns}, orient="row"
        ).with_columns(pl.all().replace("", None))
        return ParsedBlock(self._canonical(frame), lambda: good_lines, bad)

    def _positions(self) -> list[int]:
        """Indices of the header columns that are read, in header order."""
        assert self._header is not None
        wanted = set(self._columns.values())
        return [i for i, column in enumerate(self._header) if column in wanted]

    def _canonical(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        return frame.select(
            [pl.col(column).alias(name) for name, column in sorted(self._columns.items())]
        )


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out
