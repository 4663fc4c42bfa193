"""The report on a Dask cluster: the spilled engine of :mod:`botistat.engine.local`, spread.

1. **parse**: one task per input (per byte range of a large JSON Lines file, see
   :mod:`botistat.engine.ranges`), on any worker: botistat's own ingestion turns it into the
   canonical columns the metrics read, in the time range, split by ``hash(conversation_id)``
   into as many pieces as there are partitions (the hash and seed of the local spill). Each
   task also reports what reading revealed (:class:`IngestStats`) and the distinct addresses
   it needs a country for.
2. the client merges the ingest stats in input order (so files, skipped lines, examples and
   failures read as the single-process run's) and looks up every distinct address once.
3. **shuffle**: for each partition, each input's piece of it is picked where that input was
   parsed, and Dask moves the pieces to the partition's worker: the conversation is whole.
4. **partition**: the partials of the partition, with the local engine's own code.
5. the client merges the partials in partition order (replies to disk, as the spilled engine
   does) and assembles the report.

Workers lost mid-run are Dask's to handle: it recomputes what they held on the others.
"""

from __future__ import annotations

import copyreg
import logging
import os
import tempfile
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botistat.core.config import Config
from botistat.core.errors import BotistatError, ConfigError, InputError
from botistat.core.model import Report
from botistat.core.pricing import PriceBook
from botistat.core.schema import canonical_schema
from botistat.engine.local import (
    combine_partials,
    constant_literals,
    in_range,
    metric_columns,
    partition_partials,
)
from botistat.engine.partition import PARTITION_COLUMN, conversation_hash, partitions_for
from botistat.engine.ranges import byte_ranges, piece_bytes, reader_block_size
from botistat.engine.scratch import scratch_directory
from botistat.geo.lookup import lookup_table
from botistat.geo.sources import CountrySource, RegistrySource
from botistat.ingest import Source, scan_sources
from botistat.ingest.scan import constant_columns, file_skip_reason
from botistat.ingest.stats import IngestStats
from botistat.metrics.grouping import GROUP
from botistat.report.assemble import assemble_report
from botistat.report.options import ReportOptions

if TYPE_CHECKING:
    import polars as pl
    from distributed import Client, Future

EXTRA: Final = "pip install 'botistat[dask]'"
#: How long to try reaching a scheduler, and to wait for its first worker.
CONNECT_TIMEOUT: Final = "10s"
WORKER_TIMEOUT: Final = 60
#: Partitions per worker thread at least: a partition per thread keeps each busy, two let a
#: slow one be balanced out.
PARTITIONS_PER_THREAD: Final = 2

# A Config holds read-only mappings, which pickle does not know: they travel as dicts and
# are made read-only again on the worker.
copyreg.pickle(types.MappingProxyType, lambda proxy: (types.MappingProxyType, (dict(proxy),)))


@contextmanager
def dask_client(scheduler: str | None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a cluster of worker processes on this
    machine (one per core) when it is None; closed (and the local cluster stopped) after."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            "the dask engine needs the distributed package", "--engine dask", f"run: {EXTRA}"
        ) from exc
    if scheduler is None:
        cores = os.cpu_count() or 1
        with (
            LocalCluster(
                n_workers=cores,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # No dashboard, and the scheduler's HTTP routes on any free port: its default
                # (8787) may be taken, which it would warn about on stderr.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
            _cluster_failures("--engine dask"),
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {scheduler}",
            "--scheduler",
            "start one with `dask scheduler` (and workers with `dask worker ADDRESS`), "
            "or leave out --scheduler for a cluster on this machine",
        ) from exc
    with client, _cluster_failures(scheduler):
        _check_workers(client, scheduler)
        yield client


@contextmanager
def _cluster_failures(where: str) -> Iterator[None]:
    """The cluster failing under a run, as one line: workers that died running the same
    task, one after the other (Dask retries a lost worker's tasks on the others, up to its
    ``allowed-failures``), or the scheduler gone."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    try:
        yield
    except KilledWorker as exc:
        raise BotistatError(
            f"every Dask worker that ran task {exc.task} died ({exc.allowed_failures + 1})",
            where,
            "see the workers' logs (out of memory? a smaller --memory-budget makes smaller "
            "partitions)",
        ) from exc
    except FutureCancelledError as exc:
        raise BotistatError("the Dask scheduler went away during the run", where) from exc


def _check_workers(client: Client, scheduler: str) -> None:
    """Wait for a worker; refuse workers with another botistat or Polars: the partitions
    are cut by Polars' hash, which only the same version computes the same."""
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError as exc:
        raise ConfigError(
            f"no Dask worker joined the scheduler in {WORKER_TIMEOUT} s",
            scheduler,
            f"start workers with `dask worker {scheduler}`",
        ) from exc
    here = _versions()
    for worker, there in client.run(_versions).items():
        if tuple(there) != here:
            raise ConfigError(
                f"worker {worker} runs botistat {there[0]} with polars {there[1]}, this "
                f"client botistat {here[0]} with polars {here[1]}",
                "--scheduler",
                "install the same botistat and polars on the workers",
            )


def _versions() -> tuple[str, str]:
    from importlib.metadata import version

    return version("botistat"), version("polars")


@dataclass(frozen=True)
class Failure:
    """A :class:`BotistatError` raised on a worker, as plain data (an exception pickles
    with its message only), and why its input was skipped."""

    kind: str
    what: str
    where: str | None
    hint: str | None
    skip_reason: str

    @classmethod
    def of(cls, error: BotistatError) -> Failure:
        reason = file_skip_reason(error) if isinstance(error, InputError) else error.what
        return cls(type(error).__name__, error.what, error.where, error.hint, reason)

    def error(self) -> BotistatError:
        kinds: dict[str, type[BotistatError]] = {"InputError": InputError}
        return kinds.get(self.kind, BotistatError)(self.what, self.where, self.hint)


@dataclass(frozen=True)
class Parsed:
    """What a parse task gives the client: small, whatever the input's size."""

    stats: IngestStats
    #: Rows of each partition.
    counts: list[int]
    #: Distinct addresses of records without a country (columns ``ip`` and ``country``).
    addresses: pl.DataFrame
    failure: Failure | None = None
    #: The records of each non-empty partition; left on the worker (see :func:`_summary`).
    pieces: dict[int, pl.DataFrame] = field(default_factory=dict)


def report_on_cluster(
    client: Client,
    sources: list[Source],
    settings: Config,
    options: ReportOptions,
    countries: CountrySource | None = None,
    prices: PriceBook | None = None,
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    analysed: Callable[[int, int], None] | None = None,
) -> Report:
    """The :class:`Report` of ``sources``, computed by the workers of ``client``; equal to
    :func:`botistat.engine.local.report_from_scan`'s. ``progress`` is told the bytes of each
    input once parsed, ``analysed`` how many partitions the client has received of how
    many."""
    import polars as pl

    if any(source.is_stdin for source in sources):
        raise ConfigError(
            "the dask engine cannot read standard input", "--engine dask", "pass the log files"
        )
    source = countries or RegistrySource()
    book = prices or PriceBook()
    columns = metric_columns(options)
    constants = {
        name: value
        for name, value in constant_columns(sources, settings).items()
        if name in columns
    }
    read = [name for name in columns if name not in constants]
    workers = _workers(client)
    partitions = cluster_partitions(sources, options.partitions, workers)
    run = uuid.uuid4().hex[:12]

    parse = partial(
        parse_input,
        settings=settings,
        options=options,
        columns=read,
        partitions=partitions,
        strict=strict,
        block_size=reader_block_size(),
    )
    threads = sum(nthreads for _, nthreads in workers)
    piece = piece_bytes(sum(source.size or 0 for source in sources), threads)
    parsed, summaries = _parse_inputs(client, sources, parse, run, progress, piece)
    stats = _merged_stats(summaries, len(sources), strict)
    table = lookup_table(pl.concat([each.addresses for each in summaries]).lazy(), source).collect()
    shared_table = client.scatter(table, broadcast=True)
    schema = {name: canonical_schema()[name] for name in read}
    keys = [GROUP] if options.by else []
    # Only partitions with records, as the spill writes only those; none: one empty part.
    filled = [p for p in range(partitions) if any(each.counts[p] for each in summaries)]
    done: list[Future[dict[str, pl.DataFrame]]] = []
    chosen: list[int | None] = [*filled] or [None]
    for p in chosen:
        pieces = [
            client.submit(_piece, future, p, key=f"botistat-piece-{run}-{i}-{p}")
            for i, (future, each) in enumerate(zip(parsed, summaries, strict=True))
            if p is not None and each.counts[p]
        ]
        done.append(
            client.submit(
                partition_task,
                pieces,
                schema,
                shared_table,
                keys,
                constants,
                options,
                book,
                key=f"botistat-partition-{run}-{p}",
            )
        )
    del parsed  # the pieces hold them as long as needed

    def in_order() -> Iterator[dict[str, pl.DataFrame]]:
        total = len(done)
        for received in range(total):
            if analysed is not None:
                analysed(received, total)
            yield done.pop(0).result()
        if analysed is not None:
            analysed(total, total)

    with scratch_directory(tempfile.gettempdir()) as directory:
        partials = combine_partials(in_order(), len(filled) or 1, keys, Path(directory))
        # Inside the directory: the replies are read from it.
        return assemble_report(stats.summary(), options, partials, source.info, book.source)


def _parse_inputs(
    client: Client,
    sources: list[Source],
    parse: Callable[[Source], Parsed],
    run: str,
    progress: Callable[[int], None] | None,
    piece: int,
) -> tuple[list[Future[Parsed]], list[Parsed]]:
    """A parse task for each input, or for each byte range of a large one; their futures
    and their summaries, in input order.

    A range that skipped its file (or failed) is not what the whole file would have done (a
    required field is missing from *every* record of a range; the rest of a file is
    skipped after a bad block): that file is then parsed again whole, and its ranges
    dropped, so that it is skipped (or fails) as the single-process scan would.
    """
    plan = [
        (index, part) for index, source in enumerate(sources) for part in byte_ranges(source, piece)
    ]

    from distributed import as_completed

    sizes: dict[str, int] = {}

    def submit(source: Source, key: str) -> Future[Parsed]:
        sizes[f"botistat-parse-{run}-{key}"] = source.size or 0
        return client.submit(parse, source, key=f"botistat-parse-{run}-{key}")

    def summaries_of(futures: list[Future[Parsed]], tag: str) -> list[Parsed]:
        if progress is not None:  # the bytes of the inputs parsed so far, on all workers
            for done in as_completed(futures, loop=client.loop):
                progress(sizes[done.key])
        return list(
            client.gather(
                [
                    client.submit(_summary, each, key=f"botistat-summary-{run}-{tag}{k}")
                    for k, each in enumerate(futures)
                ]
            )
        )

    futures = [submit(piece, f"{k}") for k, (_, piece) in enumerate(plan)]
    summaries = summaries_of(futures, "")
    pieces_of: dict[int, list[int]] = {}
    for k, (index, _) in enumerate(plan):
        pieces_of.setdefault(index, []).append(k)
    again = [
        index
        for index, pieces in pieces_of.items()
        if len(pieces) > 1
        and any(summaries[k].failure or summaries[k].stats.skipped_files for k in pieces)
    ]
    whole = {index: submit(sources[index], f"whole-{index}") for index in again}
    whole_summaries = dict(zip(whole, summaries_of(list(whole.values()), "whole-"), strict=True))
    kept_futures: list[Future[Parsed]] = []
    kept_summaries: list[Parsed] = []
    for index, pieces in pieces_of.items():
        if index in whole:
            kept_futures.append(whole[index])
            kept_summaries.append(whole_summaries[index])
        else:
            kept_futures += [futures[k] for k in pieces]
            kept_summaries += [summaries[k] for k in pieces]
    return kept_futures, kept_summaries


def _workers(client: Client) -> list[tuple[int, int]]:
    """Each worker's memory limit in bytes (0: none) and threads."""
    workers = client.scheduler_info().get("workers", {})
    return [
        (int(worker.get("memory_limit") or 0), int(worker.get("nthreads", 1)))
        for worker in workers.values()
    ]


def cluster_partitions(
    sources: list[Source], client_partitions: int, workers: list[tuple[int, int]]
) -> int:
    """How many partitions a report on the cluster splits the records into.

    Partitions are analysed by the workers, so their size follows a worker thread's share of
    its memory (the local engine's rule, :func:`~botistat.engine.partition.partitions_for`,
    with that share as the budget), not the client's budget; and there are at least
    :data:`PARTITIONS_PER_THREAD` a thread, to keep every thread busy. Workers without a
    memory limit: the client's count (``client_partitions``) stands in.
    """
    threads = max(1, sum(nthreads for _, nthreads in workers))
    least = PARTITIONS_PER_THREAD * threads
    shares = [limit // nthreads for limit, nthreads in workers if limit and nthreads]
    if not shares:
        return max(client_partitions, least)
    return max(least, partitions_for(sources, min(shares)))


def _merged_stats(summaries: list[Parsed], inputs: int, strict: bool) -> IngestStats:
    """The ingest stats of all inputs, in input order; raises as the local scan would: at
    the first error with ``strict``, else when no input gave a record."""
    stats = IngestStats()
    failures = []
    for each in summaries:
        if each.failure is not None:
            if strict:
                raise each.failure.error()
            failures.append(each.failure)
        stats.add(each.stats)
    if stats.skipped_files and not stats.read_any():
        first = failures[0]
        if inputs == 1:
            raise first.error()
        raise InputError(
            f"no records in any input ({len(stats.skipped_files)} of {inputs} skipped); "
            f"first skipped: {first.skip_reason}",
            first.where,
            first.hint,
        )
    return stats


def parse_input(
    source: Source,
    settings: Config,
    options: ReportOptions,
    columns: list[str],
    partitions: int,
    strict: bool,
    block_size: int,
) -> Parsed:
    """On a worker: the canonical ``columns`` of one input in the time range, split into
    pieces by conversation, with what reading it revealed."""
    import polars as pl

    scan = scan_sources([source], settings, strict=strict, block_size=block_size)
    failure = None
    try:
        records = in_range(scan.frame, options).select(columns).collect()
    except BotistatError as error:
        # Skipped: an input that gave no record (its stats say why), or the error that
        # ends a strict run, raised by the client in input order.
        failure = Failure.of(error)
        records = pl.DataFrame(schema={name: canonical_schema()[name] for name in columns})
    key = (conversation_hash() % partitions).alias(PARTITION_COLUMN)
    split = records.with_columns(key).partition_by(
        PARTITION_COLUMN, as_dict=True, include_key=False, maintain_order=True
    )
    pieces = {int(p): piece for (p,), piece in split.items()}
    counts = [pieces[p].height if p in pieces else 0 for p in range(partitions)]
    addresses = (
        records.filter(pl.col("country").is_null() & pl.col("ip").is_not_null())
        .select("ip", "country")
        .unique()
    )
    return Parsed(scan.stats, counts, addresses, failure, pieces)


def _summary(parsed: Parsed) -> Parsed:
    return replace(parsed, pieces={})


def _piece(parsed: Parsed, partition: int) -> pl.DataFrame:
    return parsed.pieces[partition]


def partition_task(
    pieces: list[pl.DataFrame],
    schema: dict[str, Any],
    table: pl.DataFrame,
    keys: list[str],
    constants: dict[str, Any],
    options: ReportOptions,
    book: PriceBook,
) -> dict[str, pl.DataFrame]:
    """On a worker: the partials of one partition, from its pieces in input order (the order
    the spill keeps)."""
    import polars as pl

    records = pl.concat(pieces) if pieces else pl.DataFrame(schema=schema)
    part = records.lazy().with_columns(constant_literals(constants, list(constants)))
    return partition_partials(part, table, keys, options, book)
