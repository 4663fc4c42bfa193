"""Turn the collected partial results into the frozen :class:`Report`.

Everything here works on small, already collected frames: one row per group, per country or
per reply. The ``merge_*`` functions combine the partials of several partitions exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from botistat.core.model import (
    Cost,
    Countries,
    CountryAggregate,
    CountryRow,
    CountrySourceInfo,
    Errors,
    Group,
    InputSummary,
    Messages,
    Metrics,
    ModelCost,
    Report,
    ResponseTimes,
    Spike,
    TimelinePoint,
    Tokens,
    TopItem,
    TopUsage,
    UnpricedModel,
)
from botistat.geo.addresses import REASONS
from botistat.geo.names import country_name
from botistat.ingest.stats import IngestSummary
from botistat.metrics.buckets import bucket_grid, merge_bucket_volume, merge_contributors
from botistat.metrics.cost import merge_cost
from botistat.metrics.countries import (
    REASON_COLUMNS,
    count_country_users,
    merge_country_counts,
    reply_times_by_country,
)
from botistat.metrics.grouping import GROUP, group_label
from botistat.metrics.reply_series import replies_per_bucket, reply_p95_in_slices
from botistat.metrics.response import (
    response_summary,
    sorted_response_times,
    with_percentiles,
)
from botistat.metrics.top import TOP_FIELDS, merge_top_usage
from botistat.metrics.volume import merge_volume
from botistat.spikes.series import BucketValues, SpikeSettings, bucket_values, find_report_spikes

#: A timeline longer than this lists only its buckets with records (10,000 is more than a
#: year of hours, or a week of minutes).
MAX_TIMELINE_BUCKETS: Final = 10_000

if TYPE_CHECKING:
    from datetime import datetime

    import polars as pl


class Options(Protocol):
    """The report options assembly needs (see ``botistat.report.ReportOptions``)."""

    @property
    def by(self) -> str | None: ...
    @property
    def top(self) -> int: ...
    @property
    def top_items(self) -> int: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def spikes(self) -> SpikeSettings: ...


@dataclass(frozen=True)
class Partials:
    """Partial results of every partition, concatenated."""

    volume: pl.DataFrame
    #: One row per reply, the only partial that grows with the input: with partitions its
    #: rows wait on disk and each summary reads just the columns it needs.
    replies: pl.LazyFrame
    countries: pl.DataFrame
    countries_overall: pl.DataFrame
    #: Distinct user pairs, in shares that have no user in common (one share in memory).
    users: tuple[pl.LazyFrame, ...]
    users_overall: tuple[pl.LazyFrame, ...]
    buckets: pl.DataFrame
    buckets_overall: pl.DataFrame
    contributors: pl.DataFrame
    contributors_overall: pl.DataFrame
    #: Per group and model; the overall cost is their sum (each record is in one group).
    cost: pl.DataFrame
    #: Per conversation, user and model (conversations already cut per partition).
    top: pl.DataFrame
    merged: pl.DataFrame


def assemble_report(
    ingest: IngestSummary,
    options: Options,
    partials: Partials,
    source: CountrySourceInfo,
    prices: str = "",
) -> Report:
    keys = [GROUP] if options.by else []
    totals = merge_volume(partials.volume.lazy().drop(keys), []).collect().row(0, named=True)
    # The replies grow with the input (with partitions they are on disk): one collect
    # reads them once for all their summaries.
    speed, reply_countries, p95s = _reply_summaries(partials.replies, [], options)
    buckets = bucket_values(
        merge_bucket_volume(partials.buckets_overall.lazy(), []).collect(), p95s
    )
    overall = _metrics(
        totals,
        speed.row(0, named=True),
        _countries(
            merge_country_counts(partials.countries_overall.lazy(), []).collect(),
            count_country_users(partials.users_overall, []),
            reply_countries,
            options.top,
            source,
        ),
        find_report_spikes(
            buckets,
            merge_contributors(partials.contributors_overall.lazy(), []).collect(),
            options.spikes,
        ),
        cost_summary(merge_cost(partials.cost.lazy().drop(keys), []).collect(), prices),
    )
    groups = _groups(partials, options, source, prices) if keys else ()
    summary = InputSummary(
        files=len(ingest.files),
        records=totals["messages_total"],
        skipped=ingest.skipped,
        skipped_by_file=ingest.skipped_by_file,
        skipped_examples=tuple(str(example) for example in ingest.examples),
        ignored=ingest.ignored,
        first_timestamp=totals["first_timestamp"],
        last_timestamp=totals["last_timestamp"],
        since=options.since,
        until=options.until,
        shapes=ingest.shapes,
        merged=int(partials.merged["merged"].sum()),
        invalid_values=ingest.invalid_values,
        invalid_examples=tuple(str(example) for example in ingest.invalid_examples),
        skipped_files=tuple((item.file, item.reason) for item in ingest.skipped_files),
        read=sum(count for _, count in ingest.shapes) - ingest.ignored,
    )
    return Report(
        input=summary,
        metrics=overall,
        by=options.by,
        groups=groups,
        top=options.top,
        timeline=_timeline(buckets, options.spikes.bucket_seconds),
        bucket_seconds=options.spikes.bucket_seconds,
        timeline_dense=_dense(buckets, options.spikes.bucket_seconds),
        top_usage=top_lists(merge_top_usage(partials.top.lazy(), options.top_items).collect()),
    )


def top_lists(rows: pl.DataFrame) -> TopUsage:
    """The merged :mod:`botistat.metrics.top` rows, in their order, as the report's lists."""
    lists: dict[str, list[TopItem]] = {key: [] for _, key in TOP_FIELDS}
    keys = dict(TOP_FIELDS)
    for row in rows.iter_rows(named=True):
        lists[keys[row["field"]]].append(
            TopItem(
                name=row["name"],
                tokens=row["tokens"],
                messages=row["messages"],
                usd=float(row["usd"]),
                unpriced_messages=row["unpriced"],
            )
        )
    return TopUsage(**{key: tuple(items) for key, items in lists.items()})


def _dense(buckets: list[BucketValues], seconds: int) -> bool:
    """Whether the timeline shows every bucket of its span (see ``MAX_TIMELINE_BUCKETS``)."""
    if not buckets:
        return True
    span = (buckets[-1].start - buckets[0].start).total_seconds() // seconds + 1
    return span <= MAX_TIMELINE_BUCKETS


def _timeline(buckets: list[BucketValues], seconds: int) -> tuple[TimelinePoint, ...]:
    """Every bucket from the first to the last, empty ones as zeros; or, over a span of more
    than ``MAX_TIMELINE_BUCKETS`` (one record dated 0001-01-01 among this year's), only the
    buckets with records: the output is bounded by the records, not by the time they span."""
    by_start = {bucket.start: bucket for bucket in buckets}
    max_gap = None if _dense(buckets, seconds) else 0
    return tuple(
        TimelinePoint(
            start=start,
            messages=bucket.messages,
            tokens=bucket.tokens,
            replies=bucket.replies,
            p95_ms=bucket.p95_ms,
            error_rate=bucket.error_rate,
        )
        for start in bucket_grid(list(by_start), seconds, max_gap)
        for bucket in [by_start.get(start) or BucketValues(start)]
    )


def _groups(
    partials: Partials, options: Options, source: CountrySourceInfo, prices: str
) -> tuple[Group, ...]:
    keys = [GROUP]
    top = options.top
    speeds, reply_country_rows, p95s = _reply_summaries(partials.replies, keys, options)
    speed, reply_countries, reply_rows = map(_by_group, (speeds, reply_country_rows, p95s))
    volumes_by_bucket = _by_group(merge_bucket_volume(partials.buckets.lazy(), keys).collect())
    contributors = _by_group(merge_contributors(partials.contributors.lazy(), keys).collect())
    costs = _by_group(merge_cost(partials.cost.lazy(), keys).collect())
    counts = _by_group(merge_country_counts(partials.countries.lazy(), keys).collect())
    users = _by_group(count_country_users(partials.users, keys))
    empty_counts = merge_country_counts(partials.countries.lazy(), keys).clear().collect()
    groups = []
    volumes = merge_volume(partials.volume.lazy(), keys).collect()
    rows = sorted(
        volumes.iter_rows(named=True),
        key=lambda r: (r[GROUP] is None, group_label(r[GROUP], options.by)),
    )
    for row in rows:
        key = row[GROUP]
        speed_rows = speed.get(key)
        countries = _countries(
            counts.get(key, empty_counts).drop(GROUP),
            _drop_group(users.get(key), "users"),
            _drop_group(reply_countries.get(key), "replies"),
            top,
            source,
        )
        summary = speed_rows.row(0, named=True) if speed_rows is not None else {}
        spikes = find_report_spikes(
            bucket_values(
                volumes_by_bucket[key] if key in volumes_by_bucket else partials.buckets.clear(),
                reply_rows[key] if key in reply_rows else p95s.clear(),
            ),
            contributors[key] if key in contributors else partials.contributors.clear(),
            options.spikes,
        )
        cost = cost_summary(costs[key] if key in costs else partials.cost.clear(), prices)
        metrics = _metrics(row, summary, countries, spikes, cost)
        groups.append(Group(key=group_label(key, options.by), metrics=metrics))
    return tuple(groups)


def _reply_summaries(
    replies: pl.LazyFrame, keys: list[str], options: Options
) -> list[pl.DataFrame]:
    """Reply-time summary, reply times by country, and p95 per bucket."""
    import polars as pl

    seconds = options.spikes.bucket_seconds
    # One read for what needs every reply at once (a column, plus small aggregates); the
    # p95 per bucket then reads a slice of the replies at a time.
    queries = [
        response_summary(replies, keys, percentiles=bool(keys)),
        reply_times_by_country(replies, keys),
        replies_per_bucket(replies, seconds),
    ]
    if not keys:  # the overall percentiles: from one sort of all reply times
        queries.append(sorted_response_times(replies))
    speed, by_country, counts, *ordered = pl.collect_all(queries)
    if ordered:
        speed = with_percentiles(speed, ordered[0].to_series())
    return [speed, by_country, reply_p95_in_slices(replies, keys, seconds, counts)]


def _by_group(frame: pl.DataFrame) -> dict[Any, pl.DataFrame]:
    return {key[0]: part for key, part in frame.partition_by(GROUP, as_dict=True).items()}


def _drop_group(frame: pl.DataFrame | None, kind: str) -> pl.DataFrame:
    import polars as pl

    if frame is not None:
        return frame.drop(GROUP)
    if kind == "users":
        return pl.DataFrame(schema={"country": pl.String, "users": pl.UInt32})
    return pl.DataFrame(
        schema={"user_country": pl.String, "replies": pl.UInt32, "reply_ms_total": pl.Float64}
    )


def _metrics(
    totals: dict[str, Any],
    speed: dict[str, Any],
    countries: Countries,
    spikes: tuple[Spike, ...] = (),
    cost: Cost | None = None,
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
            cache_read=totals["tokens_cache_read"],
            cache_write=totals["tokens_cache_write"],
        ),
        errors=Errors(
            transactions=totals["errors_transactions"],
            rate=totals["errors_transactions"] / bot_records if bot_records else None,
        ),
        countries=countries,
        spikes=spikes,
        cost=cost or Cost(),
    )


def _countries(
    counts: pl.DataFrame,
    users: pl.DataFrame,
    replies: pl.DataFrame,
    top: int,
    source: CountrySourceInfo,
) -> Countries:
    """Rank countries by messages (then code), keep ``top``, fold the rest into "Other"."""
    import polars as pl

    table = (
        counts.join(users, on="country", how="left", nulls_equal=True)
        .join(
            replies.rename({"user_country": "country"}),
            on="country",
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("users", "replies", "reply_ms_total").fill_null(0))
    )
    known = table.filter(pl.col("country").is_not_null()).sort(
        ["messages", "country"], descending=[True, False]
    )
    unknown = table.filter(pl.col("country").is_null())
    known_messages = int(known["messages"].sum())
    rows = tuple(
        CountryRow(
            country=row["country"],
            name=country_name(row["country"]),
            messages=row["messages"],
            conversations=row["conversations"],
            share=row["messages"] / known_messages,
            users=row["users"],
            tokens=row["tokens"],
            avg_response_ms=_average(row["reply_ms_total"], row["replies"]),
        )
        for row in known.head(top).iter_rows(named=True)
    )
    rest = known.slice(top)
    reasons = tuple(
        (reason, int(unknown[column].sum()))
        for reason, column in zip(REASONS, REASON_COLUMNS, strict=True)
    )
    return Countries(
        top=rows,
        other_countries=rest.height,
        other=_aggregate(rest, known_messages),
        unknown=_aggregate(unknown, None),
        unknown_reasons=reasons,
        source=source,
    )


def cost_summary(rows: pl.DataFrame, source: str) -> Cost:
    """Total, per model (most expensive first) and the unpriced models of one scope."""
    by_model = []
    unpriced = []
    for row in rows.sort("model", nulls_last=True).iter_rows(named=True):
        usd = float(row["usd_log"] or 0) + float(row["usd_table"] or 0)
        kinds = [
            k for k, n in (("log", row["log_records"]), (row["price"], row["table_records"])) if n
        ]
        if kinds:
            by_model.append(ModelCost(row["model"], usd, row["records"], "+".join(map(str, kinds))))
        if row["unpriced_records"]:
            unpriced.append(
                UnpricedModel(
                    model=row["model"],
                    records=row["unpriced_records"],
                    prompt_tokens=row["unpriced_prompt_tokens"],
                    completion_tokens=row["unpriced_completion_tokens"],
                    total_tokens=row["unpriced_total_tokens"],
                    cache_read_tokens=row["unpriced_cache_read_tokens"],
                    cache_write_tokens=row["unpriced_cache_write_tokens"],
                )
            )
    by_model.sort(key=lambda item: -item.usd)
    return Cost(
        total_usd=sum(item.usd for item in by_model),
        partial=bool(unpriced),
        by_model=tuple(by_model),
        unpriced_models=tuple(unpriced),
        source=source,
    )


def _aggregate(rows: pl.DataFrame, known_messages: int | None) -> CountryAggregate:
    messages = int(rows["messages"].sum())
    return CountryAggregate(
        messages=messages,
        conversations=int(rows["conversations"].sum()),
        users=int(rows["users"].sum()),
        tokens=int(rows["tokens"].sum()),
        avg_response_ms=_average(float(rows["reply_ms_total"].sum()), int(rows["replies"].sum())),
        share=messages / known_messages if known_messages else None,
    )


def _average(total: float, count: int) -> float | None:
    return total / count if count else None
