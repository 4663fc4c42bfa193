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
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from botistat.core.errors import InputError
from botistat.ingest.blocks import Block
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.parsed import BadLine, IntegersFirst, ParsedBlock, nonblank_line_numbers

if TYPE_CHECKING:
    import polars as pl

QUOTE = '"'
UNTERMINATED_QUOTE: Final = "unterminated quote"
#: After a quote left open, the rest of a block (if at least this many lines) is handed back to
#: Polars, at most ``HAND_BACKS`` times a block: reading it with Python's csv module takes ten
#: times as long, and a block with a stray quote may be 64 MiB long (see _read_records).
HAND_BACK_LINES: Final = 10_000
HAND_BACKS: Final = 4
_FIELD_LIMIT_LOCK: Final = threading.Lock()


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
        parsed = self._read_by_polars(block)
        return parsed if parsed is not None else self._read_exact(block)

    def _read_by_polars(self, block: Block) -> ParsedBlock | None:
        """The block read by Polars, if it can be: if every line is one whole record."""

        def lines() -> list[int]:
            return nonblank_line_numbers(block.data, block.first_line)

        if QUOTE.encode() not in block.data:
            frame = self._read_unquoted(block.data)
            if frame is not None:
                return ParsedBlock(frame, lines)
        elif self._quoted_lines_fit(block.data):
            return ParsedBlock(self._read_fast(block.data), lines)
        return None

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
        """Read a block that Polars cannot (or not only) record by record, with Python's
        ``csv`` module; see :meth:`_read_records` for quotes left open."""
        parts: list[ParsedBlock] = []
        rest: Block | None = block
        hand_backs = HAND_BACKS
        while rest is not None:
            part, rest = self._read_records(rest, hand_back=hand_backs > 0)
            parts.append(part)
            if rest is not None:
                hand_backs -= 1
                by_polars = self._read_by_polars(rest)
                if by_polars is not None:
                    parts.append(by_polars)
                    rest = None
        return _joined(parts)

    def _read_records(self, block: Block, *, hand_back: bool) -> tuple[ParsedBlock, Block | None]:
        """The records of a block, or of its first part and the rest of it to read anew.

        A record that spans several lines holds a quoted field with newlines, unless a quote
        was left open: then the field runs to the block's end, or is closed by a quote that
        no separator follows (the opening quote of a field further down). Only the first line
        of such a record is skipped, and reading resumes on the next line, so a stray quote
        costs one line, not the rest of the block. As the block reader could not tell where
        that record ends either, the block is as long as a record may be; with ``hand_back``,
        the lines after the stray quote are returned for Polars to read, if there are many.
        """
        import polars as pl

        assert self._header is not None
        text = block.data.decode("utf-8", "replace")
        allow_fields_of(len(text))
        lines = _Lines(text)
        reader = csv.reader(lines, delimiter=self._separator, quotechar=QUOTE, strict=False)
        width = len(self._header)
        positions = self._positions()
        first = block.first_line
        rows: list[list[str]] = []
        good_lines: list[int] = []
        bad: list[BadLine] = []
        rest: Block | None = None
        while True:
            start = lines.position
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the reader starts afresh on the next line it is given
                bad.append(BadLine(first + start, f"unreadable row ({str(exc).split(' - ')[0]})"))
                lines.position = start + 1
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if lines.position - start > 1 and not self._well_quoted(lines.since(start)):
                bad.append(BadLine(first + start, UNTERMINATED_QUOTE))
                lines.position = start + 1
                if hand_back and lines.remaining() >= HAND_BACK_LINES:
                    rest = Block(block.data.split(b"\n", start + 1)[-1], first + start + 1)
                    break
                continue
            if len(record) != width:
                bad.append(BadLine(first + start, f"{len(record)} fields, expected {width}"))
                continue
            rows.append([record[i] for i in positions])
            good_lines.append(first + start)
        columns = [self._header[i] for i in positions]
        frame = pl.DataFrame(
            rows, schema={c: pl.String() for c in columns}, orient="row"
        ).with_columns(pl.all().replace("", None))
        return ParsedBlock(self._canonical(frame), lambda: good_lines, bad), rest

    def _well_quoted(self, lines: Iterable[str]) -> bool:
        """Whether the lines of one record read as such without leniency: every quoted field
        closed by a quote that a separator or the line's end follows."""
        reader = csv.reader(lines, delimiter=self._separator, quotechar=QUOTE, strict=True)
        try:
            for _ in reader:
                pass
        except csv.Error:
            return False
        return True

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


class _Lines:
    """The lines of a text for Python's ``csv`` reader, which takes its records from them;
    ``position`` (the index of the next line given) may be set back to read lines again."""

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        if self._lines[-1] == "":
            self._lines.pop()
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self._lines):
            raise StopIteration
        self.position += 1
        return self._lines[self.position - 1] + "\n"

    def since(self, start: int) -> Iterator[str]:
        """The lines given from ``start`` on."""
        return (self._lines[i] + "\n" for i in range(start, self.position))

    def remaining(self) -> int:
        return len(self._lines) - self.position


def _joined(parts: list[ParsedBlock]) -> ParsedBlock:
    """One block's parts, read apart, as one (token counts as text if any part has them so)."""
    import polars as pl

    if len(parts) == 1:
        return parts[0]
    return ParsedBlock(
        pl.concat([part.frame for part in parts], how="vertical_relaxed"),
        lambda: [line for part in parts for line in part.row_lines()],
        [bad for part in parts for bad in part.bad],
    )


def allow_fields_of(size: int) -> None:
    """Let Python's ``csv`` module read fields of up to ``size`` characters.

    Its limit (128 KiB by default) is process-wide, so it is only ever raised, under a lock
    (blocks are read on several threads). A field never outgrows the block that holds it,
    and blocks are bounded (see :mod:`botistat.ingest.blocks`), so no limit is needed here.
    """
    with _FIELD_LIMIT_LOCK:
        if csv.field_size_limit() < size:
            csv.field_size_limit(size)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out
