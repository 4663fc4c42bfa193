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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botistat.core.config import Config
from botistat.core.schema import MESSAGE_ID_PARTS, canonical_schema
from botistat.ingest.blocks import DEFAULT_BLOCK_SIZE, peek_head, source_blocks
from botistat.ingest.decoder import Decoded, SourceDecoder, format_of
from botistat.ingest.sources import Source
from botistat.ingest.stats import IngestStats

if TYPE_CHECKING:
    import polars as pl

ProgressCallback = Callable[[int], None]
#: Worker threads parsing and typing blocks while the reader moves on. More threads than
#: cores keep the cores busy while some wait for Python's lock: on the 2-core benchmark
#: machine three beat two by 3-6% at 10M records, and four beat three by about 3% (JSON
#: Lines and CSV, pairs of runs), each for one more block in flight (about 50 MB).
WORKERS = 4


@dataclass(frozen=True)
class Scan:
    """The canonical frame, and the stats its collection fills in."""

    frame: pl.LazyFrame
    stats: IngestStats
    #: Canonical columns with the same value in every record, and that value (see
    #: :func:`constant_columns`): a query may add them as literals instead of reading them.
    constants: dict[str, Any] = field(default_factory=dict)


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
    return Scan(frame, stats, constant_columns(sources, config))


def constant_columns(sources: list[Source], config: Config) -> dict[str, Any]:
    """The columns the config fixes for every record of these inputs: an exchange's flag and
    measured latency when no input is exchange-shaped, the message id when no input maps
    one. Left out of a spill, they cost nothing to write and read back."""
    configs = [config.for_source(source.name) for source in sources]
    constants: dict[str, Any] = {}
    if all(each.record != "exchange" for each in configs):
        constants |= {"exchange": False, "latency_ms": None}
    if not any(part in each.fields for each in configs for part in MESSAGE_ID_PARTS):
        constants["message_id"] = None
    return constants


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
        for frame in self._frames(columns):
            if predicate is not None:
                frame = frame.filter(predicate)
            if remaining is not None:
                frame = frame.head(remaining)
                remaining -= frame.height
            yield frame.select(columns)
            if remaining == 0:
                return

    def _frames(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The valid records of every input, block by block, in input order.

        Worker threads parse and type the blocks (Polars releases the GIL while it works), so
        while this thread reads the next block both cores stay busy. The pipeline runs across
        input boundaries: the next file's blocks are being parsed while this one's last are
        accepted.
        """
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending: deque[_Job] = deque()
            for job in self._jobs(columns, pool):
                pending.append(job)
                if len(pending) > WORKERS:
                    yield from self._complete(pending.popleft())
            while pending:
                yield from self._complete(pending.popleft())

    def _jobs(self, columns: list[str], pool: ThreadPoolExecutor) -> Iterator[_Job]:
        for source in self._sources:
            self._stats.files.append(source.name)
            # Known before the input is cut: CSV blocks end outside quotes.
            # The first bytes tell an unknown format, and refuse a JSON array for JSON Lines.
            head = peek_head(source) if source.format in (None, "jsonl") else b""
            fmt = format_of(source, head) if head is not None else source.format
            quote = b'"' if fmt in ("csv", "tsv") else None
            size = self._block_size or DEFAULT_BLOCK_SIZE
            blocks = source_blocks(source, quote=quote, block_size=size)
            first = next(blocks, None)
            if first is None:
                continue
            block, consumed = first
            fmt = fmt or format_of(source, block.data)
            decoder = SourceDecoder(source, fmt, self._config, self._stats, columns, self._strict)
            progress = _Progress(self._progress)
            yield _Job(
                decoder, pool.submit(decoder.transform, decoder.start(block)), consumed, progress
            )
            for block, consumed in blocks:
                yield _Job(decoder, pool.submit(decoder.transform, block), consumed, progress)
            yield _Job(decoder, None, 0, progress)

    @staticmethod
    def _complete(job: _Job) -> Iterator[pl.DataFrame]:
        if job.future is None:  # the input's last block is in
            job.decoder.finish()
            return
        yield job.decoder.accept(job.future.result())
        job.progress.reached(job.consumed)


@dataclass(frozen=True)
class _Job:
    """A block of one input being decoded; without ``future``, the end of that input."""

    decoder: SourceDecoder
    future: Future[Decoded] | None
    #: Raw bytes of the input consumed once this block is in.
    consumed: int
    progress: _Progress


class _Progress:
    """Turns one input's consumed-byte positions into increments for the progress callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._reported = 0

    def reached(self, consumed: int) -> None:
        if self._callback is not None and consumed > self._reported:
            self._callback(consumed - self._reported)
            self._reported = consumed
