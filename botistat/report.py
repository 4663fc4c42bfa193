"""Build a report: one query plan for every metric, collected once, into a frozen Report."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botistat.ingest import Scan
from botistat.metrics.countries import country_counts, merge_country_counts
from botistat.metrics.grouping import GROUP, group_expr
from botistat.metrics.response import response_summary, response_times
from botistat.metrics.volume import merge_volume, volume
from botistat.model import (
    Countries,
    CountryRow,
    Errors,
    Group,
    InputSummary,
    Messages,
    Metrics,
    Report,
    ResponseTimes,
    Tokens,
)
from botistat.partition import spill
from botistat.schema import canonical_schema

if TYPE_CHECKING:
    import polars as pl

DEFAULT_TOP = 10


#: The canonical columns the metrics read.
METRIC_COLUMNS = (
    "timestamp",
    "conversation_id",
    "role",
    "failed",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "country",
)


@dataclass(frozen=True)
class ReportOptions:
    by: str | None = None
    top: int = DEFAULT_TOP
    since: datetime | None = None
    until: datetime | None = None
    timezone: str = "UTC"
    #: 0: keep the records in memory; otherwise spill them to this many partitions on disk
    #: (see :mod:`botistat.partition`). The numbers are the same either way.
    partitions: int = 0


@dataclass(frozen=True)
class _Partials:
    """Per-partition results, concatenated: each kind combines exactly across partitions."""

    volume: pl.DataFrame
    replies: pl.DataFrame
    countries: pl.DataFrame
    countries_overall: pl.DataFrame


def build_report(scan: Scan, options: ReportOptions) -> Report:
    """Run every metric over ``scan`` and assemble the :class:`Report`.

    In memory (``partitions == 0``) all metric queries share one cached scan and run in a
    single collect, so each input is read and parsed once. With partitions, one streaming pass
    parses the inputs and spills the metric columns to disk, then each partition is collected in
    turn; either way the partial results are merged into the same numbers.
    """
    frame = _in_range(scan.frame, options)
    keys: list[str] = []
    if options.by:
        frame = frame.with_columns(group_expr(options.by, options.timezone))
        keys = [GROUP]
    frame = frame.select(*METRIC_COLUMNS, *keys)
    if options.partitions:
        with tempfile.TemporaryDirectory(prefix="botistat-") as directory:
            parts = spill(frame, Path(directory), options.partitions)
            partials = _collect_partials([part.cache() for part in parts], keys)
    else:
        # An explicit cache makes every query share one read of the inputs; the time range and
        # the union of the columns the queries need are still pushed down into the scan.
        partials = _collect_partials([frame.cache()], keys)
    return _assemble(scan, options, partials, keys)


def _collect_partials(parts: list[pl.LazyFrame], keys: list[str]) -> _Partials:
    import polars as pl

    results: list[list[pl.DataFrame]] = [[], [], [], []]
    for part in parts:
        queries = [
            volume(part, keys),
            response_times(part, keys),
            country_counts(part, keys),
            country_counts(part, []),
        ]
        # The in-memory engine runs the shared scan once and feeds every query from its
        # cache; the streaming engine would pull the source once per query.
        for kind, result in zip(results, pl.collect_all(queries, engine="in-memory"), strict=True):
            kind.append(result)
    if not parts:
        empty = pl.DataFrame(schema=canonical_schema()).lazy().select(*METRIC_COLUMNS)
        return _collect_partials([empty.with_columns(pl.lit(None, pl.String).alias(GROUP))], keys)
    volumes, replies, countries, overall = (pl.concat(kind) for kind in results)
    return _Partials(volumes, replies, countries, overall)


def _assemble(scan: Scan, options: ReportOptions, partials: _Partials, keys: list[str]) -> Report:
    totals = merge_volume(partials.volume.lazy().drop(keys), []).collect()
    speed = response_summary(partials.replies.lazy(), []).collect()
    countries = merge_country_counts(partials.countries_overall.lazy(), []).collect()
    overall = _metrics(totals.row(0, named=True), speed.row(0, named=True), countries, options.top)
    groups: tuple[Group, ...] = ()
    if keys:
        groups = _groups(
            merge_volume(partials.volume.lazy(), keys).collect(),
            response_summary(partials.replies.lazy(), keys).collect(),
            merge_country_counts(partials.countries.lazy(), keys).collect(),
            options.top,
        )
    ingest = scan.stats.summary()
    row = totals.row(0, named=True)
    summary = InputSummary(
        files=len(ingest.files),
        records=row["records"],
        skipped=ingest.skipped,
        skipped_by_file=ingest.skipped_by_file,
        skipped_examples=tuple(str(example) for example in ingest.examples),
        ignored=row["ignored"],
        first_timestamp=row["first_timestamp"],
        last_timestamp=row["last_timestamp"],
        since=options.since,
        until=options.until,
    )
    return Report(input=summary, metrics=overall, by=options.by, groups=groups, top=options.top)


def _in_range(frame: pl.LazyFrame, options: ReportOptions) -> pl.LazyFrame:
    import polars as pl

    # Half-open [since, until): consecutive ranges never count a record twice.
    if options.since is not None:
        frame = frame.filter(pl.col("timestamp") >= options.since)
    if options.until is not None:
        frame = frame.filter(pl.col("timestamp") < options.until)
    return frame


def _groups(
    totals: pl.DataFrame, speed: pl.DataFrame, countries: pl.DataFrame, top: int
) -> tuple[Group, ...]:
    import polars as pl

    speed_by_key = {row[GROUP]: row for row in speed.iter_rows(named=True)}
    groups = []
    for row in totals.sort(GROUP, nulls_last=True).iter_rows(named=True):
        key = row[GROUP]
        own_countries = countries.filter(
            pl.col(GROUP).is_null() if key is None else pl.col(GROUP) == key
        )
        metrics = _metrics(row, speed_by_key.get(key, {}), own_countries, top)
        groups.append(Group(key=key, metrics=metrics))
    return tuple(groups)


def _metrics(
    totals: dict[str, Any], speed: dict[str, Any], countries: pl.DataFrame, top: int
) -> Metrics:
    bot_records = totals["bot_records"]
    return Metrics(
        messages=Messages(
            total=totals["messages_total"],
            user=totals["messages_user"],
            bot_responses=totals["messages_bot_responses"],
            failed=totals["messages_failed"],
        ),
        response_ms=ResponseTimes(
            count=speed.get("count") or 0,
            avg=speed.get("avg"),
            p50=speed.get("p50"),
            p90=speed.get("p90"),
            p95=speed.get("p95"),
            p99=speed.get("p99"),
            max=speed.get("max"),
        ),
        tokens=Tokens(
            prompt=totals["tokens_prompt"],
            completion=totals["tokens_completion"],
            total=totals["tokens_total"],
            error=totals["tokens_error"],
        ),
        errors=Errors(
            transactions=totals["errors_transactions"],
            rate=totals["errors_transactions"] / bot_records if bot_records else None,
        ),
        countries=_countries(countries, top),
    )


def _countries(counts: pl.DataFrame, top: int) -> Countries:
    """Rank countries by messages (then code), keep ``top``, and fold the rest into ``other``."""
    import polars as pl

    known = counts.filter(pl.col("country").is_not_null()).sort(
        ["messages", "country"], descending=[True, False]
    )
    unknown = counts.filter(pl.col("country").is_null())["messages"].sum()
    known_messages = known["messages"].sum()
    rows = tuple(
        CountryRow(
            country=row["country"],
            messages=row["messages"],
            conversations=row["conversations"],
            share=row["messages"] / known_messages,
        )
        for row in known.head(top).iter_rows(named=True)
    )
    rest = known.slice(top)
    return Countries(
        top=rows,
        other_countries=rest.height,
        other_messages=int(rest["messages"].sum()),
        unknown_messages=int(unknown),
    )
