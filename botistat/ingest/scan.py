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
from botistat.ingest.blocks import CSV_BLOCK_SIZE, DEFAULT_BLOCK_SIZE, source_blocks
from botistat.ingest.decoder import Decoded, SourceDecoder, format_of
from botistat.ingest.sources import Source
from botistat.ingest.stats import IngestStats
from botistat.schema import canonical_schema

if TYPE_CHECKING:
    import polars as pl

ProgressCallback = Callable[[int], None]
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
    block_size: int | None = None,
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
        block_size: int | None,
    ) -> None:
        self._sources = sources
        self._config = config
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
        remaining = n_rows
        for source in self._sources:
            self._stats.files.append(source.name)
            for frame in self._read_source(source, columns):
                if predicate is not None:
                    frame = frame.filter(predicate)
                if remaining is not None:
                    frame = frame.head(remaining)
                    remaining -= frame.height
                yield frame.select(columns)
                if remaining == 0:
                    return

    def _read_source(self, source: Source, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The valid records of one input, block by block.

        Worker threads parse and type the blocks (Polars releases the GIL while it works), so
        while this thread reads the next block both cores stay busy; blocks are accepted in
        input order.
        """
        quote = b'"' if source.format in ("csv", "tsv") else None
        size = self._block_size or (CSV_BLOCK_SIZE if quote else DEFAULT_BLOCK_SIZE)
        blocks = source_blocks(source, quote=quote, block_size=size)
        first = next(blocks, None)
        if first is None:
            return
        decoder = SourceDecoder(
            source,
            format_of(source, first[0].data),
            self._config,
            self._stats,
            columns,
            self._strict,
        )
        reported = 0

        def report(consumed: int) -> None:
            nonlocal reported
            if self._progress is not None and consumed > reported:
                self._progress(consumed - reported)
                reported = consumed

        # The first block goes alone: a CSV decoder learns the header from it.
        yield decoder.decode(first[0])
        report(first[1])
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending: deque[tuple[Future[Decoded], int]] = deque()
            for block, consumed in blocks:
                pending.append((pool.submit(decoder.transform, block), consumed))
                if len(pending) > WORKERS:
                    future, done = pending.popleft()
                    yield decoder.accept(future.result())
                    report(done)
            while pending:
                future, done = pending.popleft()
                yield decoder.accept(future.result())
                report(done)
        decoder.finish()
