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
from botistat.core.errors import InputError
from botistat.core.schema import MESSAGE_ID_PARTS, canonical_schema
from botistat.ingest.blocks import DEFAULT_BLOCK_SIZE, HEAD_BYTES, UNREADABLE, peek_head
from botistat.ingest.decoder import Decoded, SourceDecoder, format_of
from botistat.ingest.salvage import ReadableBlocks
from botistat.ingest.sources import Source
from botistat.ingest.stats import IngestStats
from botistat.ingest.text import refuse_binary

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
    read_all: Callable[[], None] | None = None,
) -> Scan:
    """Build the canonical LazyFrame over ``sources``; nothing is read until it is collected.

    ``progress`` is called with the bytes of each block read, ``read_all`` once the last
    input has been read (what follows in the collect is the queries over the records)."""
    from polars.io.plugins import register_io_source

    stats = IngestStats()
    reader = _Reader(sources, config, stats, strict, progress, block_size, read_all)
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
        read_all: Callable[[], None] | None = None,
    ) -> None:
        self._sources = sources
        self._config = config
        self._stats = stats
        self._strict = strict
        self._progress = progress
        self._block_size = block_size
        self._read_all = read_all
        #: Why each input skipped so far failed, in input order.
        self._failures: list[InputError] = []
        self._skipped: set[str] = set()

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

        An input that cannot be read (not a log of this kind, binary, cut short) is skipped
        with its reason, keeping what it gave before it broke; the scan fails only when no
        input gave a record (with the error of the first one skipped), or at once with
        ``strict``.
        """
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending: deque[_Job] = deque()
            for job in self._jobs(columns, pool):
                pending.append(job)
                if len(pending) > WORKERS:
                    yield from self._complete(pending.popleft())
            while pending:
                yield from self._complete(pending.popleft())
        if self._failures and not self._stats.read_any():
            raise no_records_error(self._failures, len(self._sources))
        if self._read_all is not None:
            self._read_all()

    def _jobs(self, columns: list[str], pool: ThreadPoolExecutor) -> Iterator[_Job]:
        for source in self._sources:
            self._stats.files.append(source.name)
            yield from self._source_jobs(source, columns, pool)

    def _source_jobs(
        self, source: Source, columns: list[str], pool: ThreadPoolExecutor
    ) -> Iterator[_Job]:
        progress = _Progress(self._progress)
        decoder: SourceDecoder | None = None
        try:
            # Known before the input is cut: CSV blocks end outside quotes.
            head = peek_head(source)
            if head is not None:
                refuse_binary(source.name, head)
            fmt = format_of(source, head) if head is not None else source.format
            quote = b'"' if fmt in ("csv", "tsv") else None
            size = self._block_size or DEFAULT_BLOCK_SIZE
            # With strict the first error ends the run: nothing is salvaged.
            blocks = ReadableBlocks(source, quote=quote, block_size=size, salvage=not self._strict)
            for block, consumed in blocks:
                if decoder is None:
                    if head is None:  # a standard input that cannot be peeked at
                        refuse_binary(source.name, block.data[:HEAD_BYTES])
                    fmt = fmt or format_of(source, block.data)
                    decoder = SourceDecoder(
                        source, fmt, self._config, self._stats, columns, self._strict
                    )
                    block = decoder.start(block)
                job = pool.submit(decoder.transform, block)
                yield _Job(source, decoder, job, consumed, progress)
        except InputError as error:
            yield _Job(source, decoder, None, 0, progress, error)
            return
        if blocks.error is not None or decoder is not None:
            yield _Job(source, decoder, None, 0, progress, blocks.error)

    def _complete(self, job: _Job) -> Iterator[pl.DataFrame]:
        if job.source.name in self._skipped:  # the input broke off at an earlier block
            return
        try:
            if job.future is not None:
                frame = job.decoder_or_fail().accept(job.future.result())
            elif job.error is not None:  # the input broke off: keep what it gave
                self._skip_file(job, job.error, forget=False)
                return
            else:  # its last block is in
                if job.decoder is not None:
                    job.decoder.finish()
                return
        except InputError as error:
            # A required field missing from every record: not a log of this kind, whose
            # lines are no malformed lines of one. A block that fails: keep the ones before.
            self._skip_file(job, error, forget=job.future is None)
            return
        yield frame
        job.progress.reached(job.consumed)

    def _skip_file(self, job: _Job, error: InputError, *, forget: bool) -> None:
        """Skip the rest of ``job``'s input (``strict``: fail)."""
        if self._strict:
            raise error
        name = job.source.name
        self._skipped.add(name)
        self._failures.append(error)
        self._stats.skip_file(name, file_skip_reason(error, job.source), forget=forget)


def no_records_error(failures: list[InputError], inputs: int) -> InputError:
    """The error of a run in which no input gave a record (``failures``: why each input
    was skipped, in input order)."""
    first = failures[0]
    if inputs == 1:
        return first
    return InputError(
        f"no records in any input ({len(failures)} of {inputs} skipped); first "
        f"skipped: {file_skip_reason(first)}",
        first.where,
        first.hint,
    )


def file_skip_reason(error: InputError, source: Source | None = None) -> str:
    """Why an input was skipped, in a few words (its error without where it happened)."""
    cause = error.__cause__
    if isinstance(cause, EOFError):
        return "truncated gzip (read up to the cut)"
    if source is not None and source.gzip and isinstance(cause, UNREADABLE):
        return "corrupt gzip (read up to the damage)"
    return error.what


@dataclass(frozen=True)
class _Job:
    """A block of one input being decoded; without ``future``, the end of that input (with
    ``error`` when it ended early)."""

    source: Source
    decoder: SourceDecoder | None
    future: Future[Decoded] | None
    #: Raw bytes of the input consumed once this block is in.
    consumed: int
    progress: _Progress
    error: InputError | None = None

    def decoder_or_fail(self) -> SourceDecoder:
        assert self.decoder is not None  # a job with a block has its decoder
        return self.decoder


class _Progress:
    """Turns one input's consumed-byte positions into increments for the progress callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._reported = 0

    def reached(self, consumed: int) -> None:
        if self._callback is not None and consumed > self._reported:
            self._callback(consumed - self._reported)
            self._reported = consumed
