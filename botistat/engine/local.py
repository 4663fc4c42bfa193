"""Build a report: every metric over the canonical records, into a frozen :class:`Report`."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botistat.core.model import Report
from botistat.core.pricing import PriceBook
from botistat.core.schema import GROUP_FIELDS, METRIC_COLUMNS, canonical_schema
from botistat.engine.partition import CONVERSATION_KEY, conversation_hash, spill
from botistat.engine.scratch import scratch_directory
from botistat.geo.lookup import lookup_table, resolve_countries
from botistat.geo.sources import CountrySource, RegistrySource
from botistat.ingest import Scan
from botistat.metrics.buckets import CONTRIBUTOR_FIELDS, bucket_contributors, bucket_volume
from botistat.metrics.cost import cost_by_model, model_rates
from botistat.metrics.countries import (
    attributed_to_user,
    country_counts,
    country_users,
    user_share,
)
from botistat.metrics.grouping import GROUP, group_expr
from botistat.metrics.merge import merge_repeated, merged_count
from botistat.metrics.response import (
    conversation_turns,
    direct_replies,
    in_conversation_order,
    paired_replies,
)
from botistat.metrics.top import top_usage, usage_by_owner
from botistat.metrics.volume import volume
from botistat.report.assemble import Partials, assemble_report
from botistat.report.options import ReportOptions

if TYPE_CHECKING:
    import polars as pl

#: Partials of distinct user pairs (overall, and per group with ``--by``).
USER_PARTIALS = frozenset({"users_overall", "users"})
SHARE = "\x00share"
SLICE = "\x00slice"
#: Row groups of the reply files: small enough that a time slice skips most of them.
REPLY_ROW_GROUP_ROWS = 16_384


class KeptPartials(Protocol):
    """Partial results kept from earlier runs for some conversations (a cache's, see
    :mod:`botistat.engine.cache.settled`): the report reads the other records (``rows``),
    merges the kept results in, and may keep those of conversations that have finished."""

    #: How many kept partial results :meth:`kept` gives.
    stored: int

    @property
    def rows(self) -> pl.LazyFrame | None:
        """The canonical records of the conversations without kept results (None: none)."""

    def kept(self) -> Iterator[dict[str, pl.DataFrame]]:
        """The kept partial results, one piece at a time (``replies`` may be a LazyFrame:
        on disk, by time)."""

    def partitions(self, planned: int) -> int:
        """The partitions to spill :attr:`rows` to, ``planned`` being those for all the
        inputs (0: in memory)."""

    def finished(self) -> pl.DataFrame:
        """The conversations among :attr:`rows` whose partial results may be kept, by their
        :func:`~botistat.engine.partition.conversation_hash` (column ``conversation_hash``;
        a conversation whose id is null is never one), in the order of their first
        record; :meth:`keep` is given rows of this frame."""

    def keep(
        self, results: dict[str, pl.DataFrame], conversations: pl.DataFrame, replies: Path
    ) -> None:
        """Keep ``results``, the partial results of exactly these finished conversations;
        their replies are the file ``replies``, once :meth:`written`."""

    def written(self) -> None:
        """The files :meth:`keep` was told of are written (and are until the report is
        assembled)."""


def report_from_scan(
    scan: Scan,
    options: ReportOptions,
    countries: CountrySource | None = None,
    prices: PriceBook | None = None,
    analysed: Callable[[int, int], None] | None = None,
    settled: KeptPartials | None = None,
) -> Report:
    """Run every metric over ``scan`` and assemble the :class:`Report`.

    In memory (``partitions == 0``) all metric queries, and the lookup of each distinct IP,
    share one cached scan and run in a single collect, so each input is read and parsed once.
    With partitions, one streaming pass parses the inputs and spills the metric columns to
    disk; the distinct IPs of all partitions are looked up once, then each partition is
    collected in turn (``analysed`` is told how many of how many are done). Either way the
    partial results merge into the same numbers. With ``settled``, the kept partial results
    are merged in and only the other conversations' records computed; the finished ones among
    those are computed apart (their own partitions) and kept.
    """
    import polars as pl

    source = countries or RegistrySource()
    book = prices or PriceBook()
    columns = metric_columns(options)
    # Columns every record has the same value in are not read (nor spilled): added back as
    # literals to each part.
    constants = constant_literals(scan.constants, columns)
    frame = scan.frame
    if settled is not None:  # the records left to compute, if any
        frame = settled.rows if settled.rows is not None else frame.clear()
    keyed = in_range(frame, options).select(c for c in columns if c not in scan.constants)
    finished = settled.finished() if settled is not None else None
    keys = [GROUP] if options.by else []
    kept = settled.kept() if settled is not None else iter(())
    stored = settled.stored if settled is not None else 0
    partitions = options.partitions
    if settled is not None:
        partitions = settled.partitions(partitions)
    if not partitions and finished is None:
        # Explicit caches make every query share one read of the inputs; the time range and
        # the union of the columns the queries need are still pushed down into the scan.
        keyed = keyed.with_columns(constants).cache()
        resolved = [_resolve(keyed, lookup_table(keyed, source), options)]
        partials = _collect_partials(resolved, keys, options, book)
        return assemble_report(scan.stats.summary(), options, partials, source.info, book.source)
    with scratch_directory(tempfile.gettempdir()) as directory:
        if partitions:
            # A time range: pieces by time, so that the next run's range cuts fewer.
            ranged = options.since is not None or options.until is not None
            spilled, to_keep = _spilled(keyed, Path(directory), partitions, finished, ranged)
            parts = [part.with_columns(constants) for part in spilled]
            table = lookup_table(pl.concat(parts), source).collect()
        else:
            assert finished is not None
            # Two parts of the same records: collected once, so that neither reads them again.
            records = keyed.with_columns(constants).collect().lazy()
            table = lookup_table(records, source).collect()
            done = _is_finished(finished)
            parts, to_keep = [records.filter(done), records.filter(~done)], [finished, None]
        resolved = [_resolve(part, table, options) for part in parts]
        keepers = [_keeper(settled, ids) for ids in to_keep]
        # Kept results are many conversations' replies: they wait on disk too (and those
        # being kept are read from the piece).
        spill_to = Path(directory)
        partials = _collect_partials(
            resolved, keys, options, book, spill_to, analysed, (kept, stored), keepers
        )
        if settled is not None:
            settled.written()
        # Inside the directory: the replies are read from it.
        return assemble_report(scan.stats.summary(), options, partials, source.info, book.source)


def _is_finished(finished: pl.DataFrame) -> pl.Expr:
    import polars as pl

    hashes = finished.get_column(CONVERSATION_KEY).implode()
    return pl.col("conversation_id").is_not_null() & conversation_hash().is_in(hashes)


def _spilled(
    keyed: pl.LazyFrame,
    directory: Path,
    partitions: int,
    finished: pl.DataFrame | None,
    by_time: bool = False,
) -> tuple[list[pl.LazyFrame], list[pl.DataFrame | None]]:
    """The partitions, and for each the finished conversations it holds (None: it holds the
    conversations whose results are not kept). With finished conversations, they fill
    ``partitions`` partitions of their own (``by_time``: stretches of time, else by hash)
    and the others one more."""
    import polars as pl

    if finished is None:
        spilled = spill(keyed, directory, partitions) or {0: keyed.clear()}
        return list(spilled.values()), [None] * len(spilled)
    if by_time:
        # In the order of their first record, cut into partitions of as many conversations
        # each: a kept piece then spans a stretch of time, and a time range that moves on
        # with every run cuts one piece, not all of them. A join, not replace_strict: in the
        # streaming spill that one rebuilt its mapping of a million conversations chunk
        # after chunk (10M records: 6 s more, 1.4 GB more).
        count = max(finished.height, 1)
        slices = finished.with_row_index(SLICE).with_columns(
            (pl.col(SLICE).cast(pl.Int64) * partitions // count).alias(SLICE)
        )
        keyed = (
            keyed.with_columns(conversation_hash().alias(CONVERSATION_KEY))
            .join(slices.lazy(), on=CONVERSATION_KEY, how="left", maintain_order="left")
            .drop(CONVERSATION_KEY)
        )
        slice_of_row = pl.col(SLICE)
    else:  # cheaper (a set lookup, no join): pieces that span all of the time
        slices = finished.with_columns(
            (pl.col(CONVERSATION_KEY) % partitions).cast(pl.Int64).alias(SLICE)
        )
        hashed = (conversation_hash() % partitions).cast(pl.Int64)
        slice_of_row = pl.when(_is_finished(finished)).then(hashed)
    key = pl.when(pl.col("conversation_id").is_not_null()).then(slice_of_row)
    drop = [SLICE] if by_time else []
    spilled = spill(keyed, directory, partitions + 1, key.fill_null(partitions), drop=drop)
    if not spilled:
        spilled = {partitions: keyed.clear()}
    to_keep = [
        slices.filter(pl.col(SLICE) == index).drop(SLICE) if index < partitions else None
        for index in spilled
    ]
    return list(spilled.values()), to_keep


#: Given a part's results and the file its replies are written to (see
#: :meth:`KeptPartials.keep`).
Keeper = Callable[[dict[str, "pl.DataFrame"], Path], None]


def _keeper(settled: KeptPartials | None, conversations: pl.DataFrame | None) -> Keeper | None:
    if settled is None or conversations is None:
        return None
    return lambda results, replies: settled.keep(results, conversations, replies)


def reply_file(directory: Path, part: int) -> Path:
    """Where :func:`combine_partials` writes the replies of its ``part``-th results."""
    return directory / f"replies-{part}.parquet"


def metric_columns(options: ReportOptions) -> list[str]:
    """The canonical columns the metrics read (and the ``--by`` field's, when it is one)."""
    columns = list(METRIC_COLUMNS)
    if options.by in GROUP_FIELDS and options.by not in columns:
        columns.append(options.by)
    return columns


def constant_literals(constants: dict[str, Any], columns: list[str]) -> list[pl.Expr]:
    """The constant columns (see :attr:`Scan.constants`) among ``columns``, as literals."""
    import polars as pl

    schema = canonical_schema()
    return [
        pl.lit(value, schema[name]).alias(name)
        for name, value in constants.items()
        if name in columns
    ]


def partition_partials(
    part: pl.LazyFrame,
    table: pl.DataFrame,
    keys: list[str],
    options: ReportOptions,
    book: PriceBook,
) -> dict[str, pl.DataFrame]:
    """Every partial result of one partition (its conversations whole), its countries
    looked up in ``table``: what a worker of a distributed engine computes."""
    return _collect_part(*_resolve(part, table, options), keys, options, book)


def _resolve(
    keyed: pl.LazyFrame, table: pl.LazyFrame | pl.DataFrame, options: ReportOptions
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The part with countries, merged repeats and group keys; and how many were merged."""
    frame = attributed_to_user(resolve_countries(keyed, table))
    merged = merged_count(keyed)
    if options.merge_messages:
        frame = merge_repeated(frame)
    if options.by:
        frame = frame.with_columns(group_expr(options.by, options.timezone))
    return frame.cache(), merged


def _collect_partials(
    parts: list[tuple[pl.LazyFrame, pl.LazyFrame]],
    keys: list[str],
    options: ReportOptions,
    book: PriceBook,
    spill_to: Path | None = None,
    analysed: Callable[[int, int], None] | None = None,
    stored: tuple[Iterable[dict[str, pl.DataFrame]], int] = ((), 0),
    keepers: list[Keeper | None] | None = None,
) -> Partials:
    """Every partial result of every part, after the ``stored`` ones (kept results, and how
    many); with ``spill_to``, the replies go to disk there. ``analysed`` is told how many
    parts are done, as each begins and when all are; ``keepers[i]``, if any, is given the
    results of part ``i`` and the file its replies are written to."""

    # A generator: each part is collected while the previous one's files are written.
    def results() -> Iterator[dict[str, pl.DataFrame]]:
        yield from stored[0]
        for index, (part, merged) in enumerate(parts):
            if analysed is not None:
                analysed(index, len(parts))
            result = _collect_part(part, merged, keys, options, book)
            keeper = keepers[index] if keepers else None
            if keeper is not None and spill_to is not None:
                keeper(result, reply_file(spill_to, stored[1] + index))
            yield result
        if analysed is not None:
            analysed(len(parts), len(parts))

    return combine_partials(results(), stored[1] + len(parts), keys, spill_to)


def combine_partials(
    results: Iterable[dict[str, pl.DataFrame]],
    count: int,
    keys: list[str],
    spill_to: Path | None = None,
) -> Partials:
    """The partial results of ``count`` parts (in part order), concatenated into the
    :class:`Partials` of all; with ``spill_to``, the replies go to disk there."""
    import polars as pl

    collected: dict[str, list[pl.DataFrame]] = {}
    reply_files: list[Path] = []
    stored_replies: list[pl.LazyFrame] = []
    written: list[Future[None]] = []
    # What a part leaves on disk is written while the next part is collected: the writes
    # are mostly single-threaded, the collect keeps both cores busy. Leaving the block waits
    # for the writes, whatever happened.
    with ThreadPoolExecutor(max_workers=1) as writer:
        for index, part in enumerate(results):
            if spill_to is not None:
                pairs = {name: part.pop(name) for name in USER_PARTIALS & part.keys()}
                replies = part.pop("replies")
                path = reply_file(spill_to, index)
                if isinstance(replies, pl.LazyFrame):  # kept, on disk already
                    stored_replies.append(replies)
                    replies = None
                else:
                    reply_files.append(path)
                written.append(writer.submit(_write_part, replies, path, pairs, index, count))
            for name, result in part.items():
                collected.setdefault(name, []).append(result)
    for done in written:
        done.result()  # raises what a write raised
    # Any: the partials are frames of different kinds; Partials names and types each.
    combined: dict[str, Any] = {name: pl.concat(frames) for name, frames in collected.items()}
    users = {
        name: _user_shares(spill_to, name, count)
        if spill_to is not None
        else (combined.pop(name).lazy(),)
        for name in (USER_PARTIALS if keys else {"users_overall"})
    }
    users.setdefault("users", users["users_overall"])
    combined |= users
    for grouped in ("countries", "buckets", "contributors"):
        combined.setdefault(grouped, combined[f"{grouped}_overall"])
    if spill_to is None:
        replies_of_all = combined.pop("replies").lazy()
    else:
        on_disk = [pl.scan_parquet(reply_files)] if reply_files else []
        replies_of_all = pl.concat(on_disk + stored_replies)
    return Partials(replies=replies_of_all, **combined)


def _replies(
    turns: pl.DataFrame, direct: pl.DataFrame, keys: list[str], from_user: tuple[str, ...]
) -> pl.DataFrame:
    import polars as pl

    paired = paired_replies(in_conversation_order(turns).lazy(), keys, from_user).collect()
    return pl.concat([paired, direct], how="vertical")


def _collect_part(
    part: pl.LazyFrame,
    merged: pl.LazyFrame,
    keys: list[str],
    options: ReportOptions,
    book: PriceBook,
) -> dict[str, pl.DataFrame]:
    """Every partial result of one part, in one collect."""
    import polars as pl

    # A reply's country is its user's: in a country breakdown it joins the user's group.
    from_user = (GROUP,) if options.by == "country" else ()
    seconds = options.spikes.bucket_seconds
    rates = model_rates(part, book)
    queries = {
        "volume": volume(part, keys),
        "turns": conversation_turns(part, keys, from_user),
        "direct": direct_replies(part, keys, from_user),
        "countries_overall": country_counts(part, []),
        "users_overall": country_users(part, []),
        "buckets_overall": bucket_volume(part, [], seconds),
        "contributors_overall": _contributors(part, [], seconds),
        "cost": cost_by_model(part, keys, rates),
        "top": usage_by_owner(part, rates),
        "merged": merged,
    }
    if keys:  # without groups, the grouped partials are the overall ones
        queries |= {
            "countries": country_counts(part, keys),
            "users": country_users(part, keys),
            "buckets": bucket_volume(part, keys, seconds),
            "contributors": _contributors(part, keys, seconds),
        }
    # The in-memory engine runs the shared scan once and feeds every query from its cache;
    # the streaming engine would pull the source once per query.
    frames = pl.collect_all(list(queries.values()), engine="in-memory")
    results = dict(zip(queries, frames, strict=True))
    results["replies"] = _replies(results.pop("turns"), results.pop("direct"), keys, from_user)
    results["top"] = top_usage(results["top"], options.top_items)
    return results


def _write_part(
    replies: pl.DataFrame | None,
    reply_file: Path,
    pairs: dict[str, pl.DataFrame],
    part: int,
    shares: int,
) -> None:
    """Write a part's replies, and its user pairs in shares by user (both grow with the
    input). From memory: a lazy sink in the same collect would run on the streaming engine
    and read and resolve the partition a second time."""
    if replies is not None:
        write_replies(replies, reply_file)
    for name, rows in pairs.items():
        _write_shares(rows, reply_file.parent, name, part, shares)


def write_replies(replies: pl.DataFrame, path: Path) -> None:
    """Replies on disk, by time: the p95 per bucket reads them a time slice at a time."""
    replies.sort("reply_at").write_parquet(
        path, compression="lz4", row_group_size=REPLY_ROW_GROUP_ROWS
    )


def _write_shares(pairs: pl.DataFrame, directory: Path, name: str, part: int, shares: int) -> None:
    split = pairs.with_columns(user_share(shares).alias(SHARE)).partition_by(
        SHARE, as_dict=True, include_key=False
    )
    for (share,), rows in split.items():
        rows.write_parquet(directory / f"{name}-{share}-{part}.parquet", compression="lz4")


def _user_shares(directory: Path, name: str, shares: int) -> tuple[pl.LazyFrame, ...]:
    import polars as pl

    files = [sorted(directory.glob(f"{name}-{share}-*.parquet")) for share in range(shares)]
    return tuple(pl.scan_parquet(share) for share in files if share)


def _contributors(part: pl.LazyFrame, keys: list[str], seconds: int) -> pl.LazyFrame:
    import polars as pl

    return pl.concat(
        [bucket_contributors(part, keys, seconds, field) for field in CONTRIBUTOR_FIELDS]
    )


def in_range(frame: pl.LazyFrame, options: ReportOptions) -> pl.LazyFrame:
    import polars as pl

    # Half-open [since, until): consecutive ranges never count a record twice.
    if options.since is not None:
        frame = frame.filter(pl.col("timestamp") >= options.since)
    if options.until is not None:
        frame = frame.filter(pl.col("timestamp") < options.until)
    return frame
