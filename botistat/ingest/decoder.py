"""Decode the blocks of one input into canonical records: parse, type, validate.

Shared by the report's scan and by ``watch``. :meth:`SourceDecoder.transform` is the costly,
pure part (it may run in worker threads, in any order, once :meth:`SourceDecoder.start` has
seen the first block);
:meth:`SourceDecoder.accept` must see the blocks in input order: it counts and reports the
skipped lines and drops invalid records.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from botistat.core.config import Config
from botistat.core.errors import InputError
from botistat.core.schema import CACHE_FIELDS, REQUIRED_FIELDS, ROLE_BOT, ROLE_OTHER, TOKEN_FIELDS
from botistat.ingest.blocks import Block
from botistat.ingest.csv import CsvBlockParser
from botistat.ingest.exchange import LATENCY_FIELDS, expand_exchanges, latency_ms
from botistat.ingest.jsonl import JsonlBlockParser
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.normalize import BlockNormalizer, raw_fields_for, with_missing_raw
from botistat.ingest.parsed import BadLine, ParsedBlock
from botistat.ingest.sources import Format, Source
from botistat.ingest.stats import MAX_EXAMPLES, IngestStats, SkippedLine

if TYPE_CHECKING:
    import polars as pl

BlockParser = Callable[[Block], ParsedBlock]
#: Why a record with an API error and no timestamp is skipped.
UNPLACED: Final = "API error without a timestamp"
#: Raw fields the parsers first try to read as integers.
COUNT_FIELDS: Final = (*TOKEN_FIELDS, *CACHE_FIELDS)


@dataclass(frozen=True)
class Decoded:
    """A block parsed (``raw`` strings) and typed (``frame``), not yet validated."""

    parsed: ParsedBlock
    raw: pl.DataFrame
    frame: pl.DataFrame
    #: Implausible values dropped from ``frame``: ``row``, ``problem``, ``value``.
    problems: pl.DataFrame | None = None


@dataclass
class SourceDecoder:
    """Everything needed to turn one input's blocks into canonical rows."""

    source: Source
    fmt: Format
    config: Config
    stats: IngestStats
    columns: list[str]
    strict: bool = False
    _parse: BlockParser = field(init=False)
    _start: Callable[[Block], Block] = field(init=False)
    _normalize: BlockNormalizer = field(init=False)
    _raw_fields: set[str] = field(init=False)
    _typed: list[str] = field(init=False)
    _required: tuple[str, ...] = field(init=False)
    _rows: int = 0
    _present: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A `sources:` rule may give this input its own mapping and record shape.
        self.config = self.config.for_source(self.source.name)
        self._exchange = self.config.record == "exchange"
        # An exchange's roles are implied; a message needs its role.
        self._required = ("timestamp",) if self._exchange else REQUIRED_FIELDS
        self._present = dict.fromkeys(self._required, 0)
        computed = {"latency_ms", "exchange"}
        # The error flag tells why a record without a timestamp is skipped, whatever the
        # query reads.
        wanted = set(self.columns) | set(REQUIRED_FIELDS) | {"error"}
        self._typed = sorted(wanted - computed)
        self._raw_fields = raw_fields_for(self._typed, self.config)
        if self._exchange:
            self._raw_fields |= set(LATENCY_FIELDS)
        self._normalize = BlockNormalizer(self.config, self._typed)
        mapping = FieldMapping(self.config.fields)
        if self.fmt == "jsonl":
            integers = frozenset(COUNT_FIELDS)
            self._parse = JsonlBlockParser(mapping, self._raw_fields, integers).parse
            self._start = lambda block: block
        else:
            parser = CsvBlockParser(
                name=self.source.name,
                separator="\t" if self.fmt == "tsv" else ",",
                mapping=mapping,
                wanted=self._raw_fields,
                required=self._required,
                integers=frozenset(COUNT_FIELDS),
            )
            self._parse = parser.parse
            self._start = parser.take_header

    def start(self, first: Block) -> Block:
        """Read what the input's first block tells about the rest (a CSV header) and return
        what is left of it: after this, blocks may be transformed in any order."""
        with self._unreadable_csv():
            return self._start(first)

    def transform(self, block: Block) -> Decoded:
        import polars as pl

        with self._unreadable_csv():
            parsed = self._parse(block)
        raw = with_missing_raw(parsed.frame, self._raw_fields)
        frame, problems = self._normalize.checked(raw)
        if self._exchange:
            latency, late = latency_ms(raw, frame.get_column("timestamp"), self.config.timezone)
            if late is not None:
                problems = late if problems is None else pl.concat([problems, late])
            frame = frame.with_columns(
                latency,
                pl.lit(True).alias("exchange"),
                # Roles come from the shape; this keeps the record valid until it is expanded.
                pl.lit(ROLE_BOT, frame.schema["role"]).alias("role"),
            )
        else:
            frame = frame.with_columns(
                pl.lit(None, pl.Float64).alias("latency_ms"), pl.lit(False).alias("exchange")
            )
        return Decoded(parsed, raw, frame, problems)

    def accept(self, decoded: Decoded) -> pl.DataFrame:
        """Count what the block skipped and ignored, and return its messages (``columns``
        only)."""
        self._skip(decoded.parsed.bad)
        raw, frame = decoded.raw, decoded.frame
        invalid, ignored = frame.select((~_message() & ~_ignored()).sum(), _ignored().sum()).row(0)
        self._count_present(raw, frame, ignored, _unplaced(raw, frame) if invalid else None)
        if invalid:
            self._skip_invalid_rows(decoded)
        if decoded.problems is not None:
            self._count_problems(decoded)
        if invalid or ignored:
            frame = frame.filter(_message())
        self.stats.add_ignored(self.source.name, ignored)
        self.stats.add_records(self.source.name, self.config.record, frame.height + ignored)
        return expand_exchanges(frame) if self._exchange else frame

    def decode(self, block: Block) -> pl.DataFrame:
        return self.accept(self.transform(block))

    @contextmanager
    def _unreadable_csv(self) -> Iterator[None]:
        """Python's CSV reader gives up on some inputs (a field over its size limit, a
        carriage return inside an unquoted header): the input cannot be read from there."""
        try:
            yield
        except csv.Error as exc:
            raise InputError(f"unreadable CSV: {exc}", self.source.name) from exc

    def _count_present(
        self,
        raw: pl.DataFrame,
        frame: pl.DataFrame,
        ignored: int,
        unplaced: pl.Series | None,
    ) -> None:
        """How often the required fields were present, in records that are not ignored (a
        summary line without a timestamp says nothing about the messages) nor failures
        without a time (a file of failed batch requests is still a log of this kind)."""
        counted = None
        if ignored:
            counted = frame.select(~_ignored()).to_series()
        if unplaced is not None:
            counted = ~unplaced if counted is None else counted & ~unplaced
        rows = raw.height if counted is None else int(counted.sum())
        self._rows += rows
        for name in self._required:
            column = raw.get_column(name)
            if counted is not None:
                column = column.filter(counted)
            self._present[name] += rows - column.null_count()

    def finish(self) -> None:
        """After the last block: a required field missing from every record is an error."""
        if not self._rows:
            return
        for name, count in self._present.items():
            if count == 0:
                where = self.config.fields[name]
                raise InputError(
                    f"required field {where!r} ({name}) is missing from every record",
                    self.source.name,
                    f"map it in the config, e.g. fields: {{{name}: <your field name>}}",
                )

    def _skip(self, bad: list[BadLine]) -> None:
        if bad and self.strict:
            first = bad[0]
            raise InputError(
                f"malformed line: {first.reason}",
                f"{self.source.name}:{first.line}",
                "without --strict such lines are skipped and counted",
            )
        self.stats.add_skipped(self.source.name, bad)

    def _count_problems(self, decoded: Decoded) -> None:
        """Count the implausible values of the block's messages (a line skipped or ignored
        anyway has none worth telling)."""
        import polars as pl

        assert decoded.problems is not None
        messages = decoded.frame.select(_message().arg_true().alias("row"))
        problems = decoded.problems.join(
            messages.with_columns(pl.col("row").cast(pl.UInt32)), on="row", how="semi"
        ).sort("row", maintain_order=True)
        if problems.is_empty():
            return
        if self.strict or self.stats.wants_invalid_examples():
            lines = decoded.parsed.row_lines()
            found = [
                SkippedLine(self.source.name, lines[row], f"{problem} ({value})")
                for row, problem, value in problems.head(MAX_EXAMPLES).iter_rows()
            ]
            if self.strict:
                row, problem, value = problems.row(0)
                field, what = problem.split(": ", 1)
                raise InputError(
                    f"invalid value: {field} is {what}: {value}",
                    f"{self.source.name}:{lines[row]}",
                    "without --strict such values are dropped from their record and counted",
                )
            self.stats.add_invalid_examples(found)
        self.stats.add_invalid(problems.get_column("problem").value_counts().iter_rows())

    def _skip_invalid_rows(self, decoded: Decoded) -> None:
        import polars as pl

        reason = (
            pl.when(pl.col("unplaced"))
            .then(pl.lit(UNPLACED))
            .when(pl.col("raw_ts").is_null())
            .then(pl.lit("missing timestamp"))
            .when(pl.col("timestamp").is_null())
            .then(pl.lit("unreadable timestamp ") + pl.col("raw_ts").str.slice(0, 40))
            .otherwise(pl.lit("missing role"))
        )
        reasons = (
            pl.DataFrame(
                {
                    "raw_ts": decoded.raw.get_column("timestamp"),
                    "unplaced": _unplaced(decoded.raw, decoded.frame),
                }
            )
            .with_columns(decoded.frame.select("timestamp", "role"))
            .with_row_index("row")
            .filter(~_message() & ~_ignored())
            .select("row", reason.alias("reason"))
        )
        if not (self.strict or self.stats.wants_examples(self.source.name)):
            self.stats.add_skipped_count(self.source.name, reasons.height)
            return
        lines = decoded.parsed.row_lines()
        self._skip([BadLine(lines[row], text) for row, text in reasons.iter_rows()])


def _unplaced(raw: pl.DataFrame, frame: pl.DataFrame) -> pl.Series:
    """Records that carry an API error but no timestamp at all (the lines of an OpenAI Batch
    error file): failures botistat cannot place in time, so skipped with their own reason."""
    no_time = raw.get_column("timestamp").is_null()
    errored = frame.get_column("error").fill_null(False)
    return (no_time & errored & ~frame.select(_ignored()).to_series()).alias("unplaced")


def _ignored() -> pl.Expr:
    """A record whose role is neither user nor bot: read, counted, not a message; it needs
    no timestamp."""
    import polars as pl

    return (pl.col("role") == ROLE_OTHER).fill_null(False)


def _message() -> pl.Expr:
    import polars as pl

    return pl.col("timestamp").is_not_null() & pl.col("role").is_not_null() & ~_ignored()


def format_of(source: Source, first: bytes) -> Format:
    """The input's format: as given, else guessed from its first bytes."""
    fmt = source.format or sniff_format(first)
    if fmt == "jsonl" and is_json_array(first):
        raise InputError(
            "file is a JSON array, not JSON Lines",
            source.name,
            "write one JSON object per line (e.g. with: jq -c '.[]' FILE)",
        )
    return fmt


def is_json_array(head: bytes) -> bool:
    """Whether an input starting with ``[`` is one JSON array rather than JSON Lines whose
    first line is an array (or garbage), told by its first nonblank line alone:

    - cut short by its end, as ``[`` or ``[{"a": 1},``: the start of a document written over
      several lines (so is a first line longer than ``head``: it cannot be told);
    - a whole JSON value: a document if nothing but blanks follows it, else JSON Lines;
    - invalid JSON before its end, or nested too deeply to tell: JSON Lines, where that line
      is skipped like any other malformed one.
    """
    text = head.lstrip()
    if text[:1] != b"[":
        return False
    first, newline, rest = text.partition(b"\n")
    if not newline:
        return True
    line = first.decode("utf-8", "replace").rstrip()
    try:
        json.loads(line)
    except RecursionError:
        return False
    except json.JSONDecodeError as exc:
        return exc.pos >= len(line)
    return not rest.strip()


def sniff_format(data: bytes) -> Format:
    """Guess the format of an input without a telling extension (stdin, ``.log``, ...)."""
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return "jsonl"
    first_line = data.split(b"\n", 1)[0]
    return "tsv" if first_line.count(b"\t") > first_line.count(b",") else "csv"
