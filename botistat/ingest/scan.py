"""One canonical LazyFrame over any number of inputs.

The frame is a Polars IO source: when the query runs, Polars pulls typed blocks from here,
with the projection and the time filter pushed down. Each input is read once, in blocks, and
parsed by Polars' native readers; malformed lines are isolated, counted in :class:`IngestStats`
and skipped (or, with ``strict``, raised as an error).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botistat.config import Config
from botistat.errors import InputError
from botistat.ingest.blocks import DEFAULT_BLOCK_SIZE, Block, source_blocks
from botistat.ingest.csv import CsvBlockParser
from botistat.ingest.jsonl import parse_jsonl_block
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.normalize import normalize_block, raw_fields_for, with_missing_raw
from botistat.ingest.parsed import BadLine, ParsedBlock
from botistat.ingest.sources import Format, Source
from botistat.ingest.stats import IngestStats
from botistat.schema import REQUIRED_FIELDS, canonical_schema

if TYPE_CHECKING:
    import polars as pl

ProgressCallback = Callable[[int], None]
BlockParser = Callable[[Block], ParsedBlock]
#: Worker threads parsing and typing blocks while the reader moves on.
WORKERS = 2


@dataclass(frozen=True)
class Scan:
    """The canonical frame, and the stats its collection fills in."""

    frame: pl.LazyFrame
    stats: IngestStats


def scan_sources(
    sources: list[Source],
    config: Config,
    *,
    strict: bool = False,
    progress: ProgressCallback | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Scan:
    """Build the canonical LazyFrame over ``sources``; nothing is read until it is collected."""
    from polars.io.plugins import register_io_source

    stats = IngestStats()
    reader = _Reader(sources, config, stats, strict, progress, block_size)
    frame = register_io_source(
        reader.batches,
        schema=canonical_schema(),
        is_pure=True,
        explain_name="botistat",
        explain_detail=f"{len(sources)} input(s)",
    )
    return Scan(frame, stats)


class _Reader:
    def __init__(
        self,
        sources: list[Source],
        config: Config,
        stats: IngestStats,
        strict: bool,
        progress: ProgressCallback | None,
        block_size: int,
    ) -> None:
        self._sources = sources
        self._config = config
        self._mapping = FieldMapping(config.fields)
        self._stats = stats
        self._strict = strict
        self._progress = progress
        self._block_size = block_size

    def batches(
        self,
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        columns = with_columns or list(canonical_schema())
        typed = sorted(set(columns) | set(REQUIRED_FIELDS))
        raw_fields = raw_fields_for(typed)
        remaining = n_rows
        for source in self._sources:
            self._stats.files.append(source.name)
            for frame in self._read_source(source, raw_fields, typed):
                if predicate is not None:
                    frame = frame.filter(predicate)
                if remaining is not None:
                    frame = frame.head(remaining)
                    remaining -= frame.height
                yield frame.select(columns)
                if remaining == 0:
                    return

    def _read_source(
        self, source: Source, raw_fields: set[str], typed: list[str]
    ) -> Iterator[pl.DataFrame]:
        import polars as pl

        seen_rows = 0
        present = dict.fromkeys(REQUIRED_FIELDS, 0)
        valid = pl.col("timestamp").is_not_null() & pl.col("role").is_not_null()
        reported = 0
        for parsed, raw, frame, consumed in self._normalized_blocks(source, raw_fields, typed):
            self._skip(source, parsed.bad)
            seen_rows += raw.height
            for name in REQUIRED_FIELDS:
                present[name] += raw.height - raw.get_column(name).null_count()
            if frame.select((~valid).sum()).item():
                self._skip_invalid_rows(source, raw, frame, parsed)
                frame = frame.filter(valid)
            if self._progress is not None and consumed > reported:
                self._progress(consumed - reported)
                reported = consumed
            yield frame
        if seen_rows:
            self._check_required(source, present)

    def _normalized_blocks(
        self, source: Source, raw_fields: set[str], typed: list[str]
    ) -> Iterator[tuple[ParsedBlock, pl.DataFrame, pl.DataFrame, int]]:
        """Blocks parsed and typed by worker threads, handed back in input order.

        Polars releases the GIL while it parses and computes, so while this thread reads the
        next block, the workers keep both cores busy.
        """
        quote = b'"' if source.format in ("csv", "tsv") else None
        blocks = source_blocks(source, quote=quote, block_size=self._block_size)
        first = next(blocks, None)
        if first is None:
            return
        fmt = source.format or _sniff_format(first[0].data)
        if fmt == "jsonl" and first[0].data.lstrip()[:1] == b"[":
            raise InputError(
                "file is a JSON array, not JSON Lines",
                source.name,
                "write one JSON object per line (e.g. with: jq -c '.[]' FILE)",
            )
        parse = self._parser_for(fmt, source, raw_fields)

        def work(block: Block) -> tuple[ParsedBlock, pl.DataFrame, pl.DataFrame]:
            parsed = parse(block)
            raw = with_missing_raw(parsed.frame, raw_fields)
            return parsed, raw, normalize_block(raw, self._config, typed)

        # The first block goes alone: a CSV parser learns the header from it.
        yield (*work(first[0]), first[1])
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending: deque[tuple[Future[tuple[ParsedBlock, pl.DataFrame, pl.DataFrame]], int]]
            pending = deque()
            for block, consumed in blocks:
                pending.append((pool.submit(work, block), consumed))
                if len(pending) > WORKERS:
                    future, done = pending.popleft()
                    yield (*future.result(), done)
            while pending:
                future, done = pending.popleft()
                yield (*future.result(), done)

    def _parser_for(self, fmt: Format, source: Source, raw_fields: set[str]) -> BlockParser:
        if fmt == "jsonl":
            schema = self._mapping.json_schema(raw_fields)
            extract = self._mapping.json_fields(raw_fields)
            return lambda block: parse_jsonl_block(block, schema, extract)
        return CsvBlockParser(
            name=source.name,
            separator="\t" if fmt == "tsv" else ",",
            mapping=self._mapping,
            wanted=raw_fields,
            required=REQUIRED_FIELDS,
        ).parse

    def _skip(self, source: Source, bad: list[BadLine]) -> None:
        if bad and self._strict:
            first = bad[0]
            raise InputError(
                f"malformed line: {first.reason}",
                f"{source.name}:{first.line}",
                "without --strict such lines are skipped and counted",
            )
        self._stats.add_skipped(source.name, bad)

    def _skip_invalid_rows(
        self, source: Source, raw: pl.DataFrame, frame: pl.DataFrame, parsed: ParsedBlock
    ) -> None:
        import polars as pl

        reason = (
            pl.when(pl.col("raw_ts").is_null())
            .then(pl.lit("missing timestamp"))
            .when(pl.col("timestamp").is_null())
            .then(pl.lit("unreadable timestamp ") + pl.col("raw_ts").str.slice(0, 40))
            .otherwise(pl.lit("missing role"))
        )
        reasons = (
            pl.DataFrame({"raw_ts": raw.get_column("timestamp")})
            .with_columns(frame.select("timestamp", "role"))
            .with_row_index("row")
            .filter(pl.col("timestamp").is_null() | pl.col("role").is_null())
            .select("row", reason.alias("reason"))
        )
        if not (self._strict or self._stats.wants_examples()):
            self._stats.add_skipped_count(source.name, reasons.height)
            return
        lines = parsed.row_lines()
        self._skip(
            source,
            [BadLine(lines[row], text) for row, text in reasons.iter_rows()],
        )

    def _check_required(self, source: Source, present: dict[str, int]) -> None:
        for name, count in present.items():
            if count == 0:
                field = self._config.fields[name]
                raise InputError(
                    f"required field {field!r} ({name}) is missing from every record",
                    source.name,
                    f"map it in the config, e.g. fields: {{{name}: <your field name>}}",
                )


def _sniff_format(data: bytes) -> Format:
    """Guess the format of an input without a telling extension (stdin, ``.log``, ...)."""
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        return "jsonl"
    first_line = data.split(b"\n", 1)[0]
    return "tsv" if first_line.count(b"\t") > first_line.count(b",") else "csv"
