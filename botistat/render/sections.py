"""The report laid out as titled tables of text, shared by the terminal and Markdown output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from botistat.core.model import (
    Contributor,
    Countries,
    Metrics,
    Report,
    TopItem,
    UnpricedModel,
)
from botistat.render.sparkline import BARS, sparkline
from botistat.report.plain import iso_time

NONE = "-"
#: The most marks a sparkline gets: with its label and peak it fits an 80-column terminal (a
#: wider table would be cut, and its last marks are the latest); a longer timeline gives each
#: mark several buckets.
MAX_MARKS: Final = 48
#: The sparkline's eight heights in ASCII, low to high: the table view is plain ASCII when it
#: is not on a terminal, and the sections cannot tell whether it is.
ASCII_MARKS: Final = str.maketrans(BARS, "_.:-=+*#")


@dataclass(frozen=True)
class Section:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Columns (by index) holding numbers, aligned right.
    numeric: frozenset[int] = frozenset()
    #: A line shown under the table.
    note: str = ""
    #: (row, column, tone) of cells that are good or bad news, for colours where there are any.
    tones: tuple[tuple[int, int, str], ...] = ()


def count(value: int | None) -> str:
    return NONE if value is None else f"{value:,}"


def millis(value: float | None) -> str:
    return NONE if value is None else f"{value:,.1f}"


def percent(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.2f}%"


def report_sections(report: Report, *, blocks: bool = False) -> list[Section]:
    """Every section in order; ``blocks`` draws sparklines with Unicode block characters
    (``▁▃█``) rather than in ASCII (``_:#``). Ids are always whole: a terminal too narrow for
    them wraps or hides the column (:mod:`botistat.render.table`), never cuts an id."""
    sections = [] if not report.timeline else [timeline_section(report, blocks=blocks)]
    sections += [
        messages_section(report.metrics),
        response_section(report.metrics),
        tokens_section(report.metrics),
        cost_section(report.metrics),
        *top_sections(report),
        countries_section(report.metrics.countries),
    ]
    if report.previous is not None:
        sections.append(change_section(report))
    sections.append(spikes_section(report))
    if report.by is not None:
        sections.append(groups_section(report))
    return sections


def change_section(report: Report) -> Section:
    """The headline KPIs against the previous period, with arrows."""
    from botistat.report.compare import HEADLINE, changes

    assert report.previous is not None
    by_metric = {c.metric: c for c in changes(report.metrics, report.previous.metrics)}
    rows = []
    tones = []
    for index, (metric, label) in enumerate(HEADLINE):
        change = by_metric[metric]
        rows.append(
            (
                label,
                kpi_value(metric, change.current),
                kpi_value(metric, change.previous),
                change_text(metric, change.absolute, change.percent, change.arrow()),
            )
        )
        if change.tone != "neutral":
            tones.append((index, 3, change.tone))
    return Section(
        "Change vs previous period",
        ("Metric", "This period", "Previous", "Change"),
        tuple(rows),
        frozenset({1, 2, 3}),
        tones=tuple(tones),
    )


def kpi_value(metric: str, value: float | int | None) -> str:
    if value is None:
        return NONE
    if metric.endswith(".rate"):
        return percent(float(value))
    if metric.startswith("response_ms.") and metric != "response_ms.count":
        return millis(float(value))
    return count(int(value))


def change_text(metric: str, absolute: float | None, pct: float | None, arrow: str) -> str:
    if absolute is None:
        return NONE
    if metric.endswith(".rate"):
        amount = f"{absolute * 100:+.2f} pp"
    elif metric.startswith("response_ms."):
        amount = f"{absolute:+,.1f}"
    else:
        amount = f"{int(absolute):+,}"
    relative = f" ({pct:+.1f}%)" if pct is not None else ""
    return f"{arrow} {amount}{relative}".strip()


def timeline_section(report: Report, *, blocks: bool = False) -> Section:
    """Messages and tokens over time as sparklines, consecutive buckets summed into one mark
    when there are more than ``MAX_MARKS``; in ASCII unless ``blocks``."""
    points = report.timeline
    per = max(1, math.ceil(len(points) / MAX_MARKS))
    series = []
    for label, values in (
        ("Messages", [p.messages for p in points]),
        ("Tokens", [p.tokens for p in points]),
    ):
        marks = [sum(values[i : i + per]) for i in range(0, len(values), per)]
        line = sparkline([float(m) for m in marks])
        series.append(
            (label, line if blocks else line.translate(ASCII_MARKS), count(max(marks, default=0)))
        )
    # Short: a caption wraps at the table's width, and a day of hours is a narrow table.
    start = short_time(points[0].start) if points else ""
    if report.timeline_dense:
        every = _duration(timedelta(seconds=report.bucket_seconds * per))
        note = f"One mark per {every} from {start} UTC."
    else:  # only the buckets with records (see Report.timeline_dense)
        bucket = _duration(timedelta(seconds=report.bucket_seconds))
        note = f"One mark per {per} {bucket} bucket(s) with records, from {start} UTC."
    return Section("Over time", ("Series", "Chart", "Peak"), tuple(series), frozenset({2}), note)


def short_time(moment: datetime | None) -> str:
    """``2026-11-19 14:00``: minutes, without the zone (the caller says UTC)."""
    return (iso_time(moment) or "").replace("T", " ").replace("Z", "")[:16]


def top_sections(report: Report) -> list[Section]:
    """The conversations, users and models with the most tokens; a list with none is left
    out (logs without user ids, say)."""
    top = report.top_usage
    sections = []
    for title, column, items in (
        ("Top conversations", "Conversation", top.conversations),
        ("Top users", "User", top.users),
        ("Top models", "Model", top.models),
    ):
        if not items:
            continue
        rows = tuple(
            (str(rank), item.name, count(item.tokens), count(item.messages), _item_cost(item))
            for rank, item in enumerate(items, start=1)
        )
        short = any(item.unpriced_messages for item in items)
        note = "+: and more; some of its messages have tokens but no price." if short else ""
        columns = ("#", column, "Tokens", "Messages", "Cost (USD)")
        sections.append(Section(f"{title} by tokens", columns, rows, frozenset({0, 2, 3, 4}), note))
    return sections


def _item_cost(item: TopItem) -> str:
    if not item.unpriced_messages:
        return usd(item.usd)
    return f"{usd(item.usd)}+" if item.usd else "unpriced"


def spikes_section(report: Report) -> Section:
    scoped = [("(all)", spike) for spike in report.metrics.spikes]
    for group in report.groups:
        label = f"{report.by}={'(none)' if group.key is None else group.key}"
        scoped += [(label, spike) for spike in group.metrics.spikes]
    rows = tuple(
        (
            spike.start.strftime("%Y-%m-%d %H:%M"),
            _duration(spike.end - spike.start),
            scope,
            SPIKE_LABELS.get(spike.metric, spike.metric),
            _spike_value(spike.metric, spike.peak),
            "-" if spike.ratio is None else f"{spike.ratio:.1f}x",
            count(spike.tokens),
            _top_name(next(iter(spike.conversations or spike.bots), None)),
        )
        for scope, spike in scoped
    )
    columns = ("Start (UTC)", "For", "Scope", "Metric", "Peak", "x median", "Tokens", "Top")
    return Section("Spikes", columns, rows, frozenset({1, 4, 5, 6}), "" if rows else "No spikes.")


SPIKE_LABELS = {"tokens": "tokens", "response_ms.p95": "p95 reply", "errors.rate": "error rate"}


def _duration(span: timedelta) -> str:
    if span.total_seconds() % 60:
        return f"{int(span.total_seconds())}s"
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _top_name(contributor: Contributor | None) -> str:
    return "" if contributor is None else contributor.name


def _spike_value(metric: str, value: float) -> str:
    if metric.startswith("response_ms"):
        return f"{millis(value)} ms"
    if metric.endswith("rate"):
        return percent(value)
    return count(int(value))


def messages_section(metrics: Metrics) -> Section:
    m, e = metrics.messages, metrics.errors
    rows = (
        ("Total messages", count(m.total)),
        ("User messages", count(m.user)),
        ("Bot responses", count(m.bot_responses)),
        ("Failed messages", count(m.failed)),
        ("API errors", count(e.transactions)),
        ("Error rate", percent(e.rate)),
    )
    return Section("Messages", ("Metric", "Value"), rows, frozenset({1}))


def response_section(metrics: Metrics) -> Section:
    r = metrics.response_ms
    row = (count(r.count), *(millis(v) for v in (r.avg, r.p50, r.p90, r.p95, r.p99, r.max)))
    columns = ("Replies", "Avg", "p50", "p90", "p95", "p99", "Max")
    return Section("Response time (ms)", columns, (row,), frozenset(range(7)))


def tokens_section(metrics: Metrics) -> Section:
    t = metrics.tokens
    row = (
        count(t.prompt),
        count(t.completion),
        count(t.total),
        count(t.error),
        count(t.cache_read),
        count(t.cache_write),
    )
    columns = ("Prompt", "Completion", "Total", "Error tokens", "Cache read", "Cache write")
    return Section("Tokens", columns, (row,), frozenset(range(6)))


def cost_section(metrics: Metrics) -> Section:
    """USD per model, then the models that could not be priced (with their tokens)."""
    cost = metrics.cost
    rows = [
        (item.model or "(no model)", count(item.records), item.source, usd(item.usd))
        for item in cost.by_model
    ]
    rows += [
        (item.model or "(no model)", count(item.records), "unpriced", _unpriced_tokens(item))
        for item in cost.unpriced_models
    ]
    partial = " (partial: some tokens have no price)" if cost.partial else ""
    note = f"Total {usd(cost.total_usd)}{partial}. Prices: {cost.source}." if cost.source else ""
    columns = ("Model", "Messages", "Priced from", "Cost (USD)")
    return Section("Cost", columns, tuple(rows), frozenset({1, 3}), note)


def _unpriced_tokens(item: UnpricedModel) -> str:
    inputs = item.prompt_tokens + item.cache_read_tokens + item.cache_write_tokens
    if inputs or item.completion_tokens:
        return f"{count(inputs)} in, {count(item.completion_tokens)} out"
    return f"{count(item.total_tokens)} tokens, no split"


def usd(value: float) -> str:
    return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:,.4f}"


def countries_section(countries: Countries) -> Section:
    def label(code: str, name: str | None) -> str:
        return f"{code} {name}" if name else code

    rows = [
        (
            str(rank),
            label(row.country, row.name),
            count(row.messages),
            percent(row.share),
            count(row.conversations),
            count(row.users),
            count(row.tokens),
            millis(row.avg_response_ms),
        )
        for rank, row in enumerate(countries.top, start=1)
    ]
    aggregates = [("Unknown", countries.unknown)]
    if countries.other_countries:
        aggregates.insert(0, (f"Other ({countries.other_countries} countries)", countries.other))
    for name, aggregate in aggregates:
        rows.append(
            (
                "",
                name,
                count(aggregate.messages),
                percent(aggregate.share) if aggregate.share is not None else "",
                count(aggregate.conversations),
                count(aggregate.users),
                count(aggregate.tokens),
                millis(aggregate.avg_response_ms),
            )
        )
    columns = ("#", "Country", "Messages", "Share", "Conv.", "Users", "Tokens", "Avg reply ms")
    notes = []
    reasons = ", ".join(f"{REASON_LABELS[r]} {count(n)}" for r, n in countries.unknown_reasons if n)
    if reasons:
        notes.append(f"Unknown: {reasons}.")
    if countries.source is not None:
        version = f" {countries.source.version}" if countries.source.version else ""
        notes.append(f"Source: {countries.source.name}{version}.")
    return Section(
        "Countries", columns, tuple(rows), frozenset({0, 2, 3, 4, 5, 6, 7}), " ".join(notes)
    )


REASON_LABELS = {
    "no_ip": "no IP",
    "private": "private IP",
    "invalid": "not an IP",
    "not_found": "not in database",
}


def groups_section(report: Report) -> Section:
    rows = []
    for group in report.groups:
        m = group.metrics
        rows.append(
            (
                "(none)" if group.key is None else group.key,
                count(m.messages.total),
                count(m.messages.user),
                count(m.messages.bot_responses),
                count(m.messages.failed),
                percent(m.errors.rate),
                millis(m.response_ms.p50),
                millis(m.response_ms.p95),
                count(m.tokens.total),
            )
        )
    columns = (
        "Group",
        "Messages",
        "User",
        "Bot",
        "Failed",
        "Error rate",
        "p50 ms",
        "p95 ms",
        "Tokens",
    )
    return Section(f"By {report.by}", columns, tuple(rows), frozenset(range(1, 9)))


def input_lines(report: Report) -> list[str]:
    """A short account of what was read, shown under the tables."""
    i = report.input
    span = ""
    if i.first_timestamp is not None:
        span = f", {iso_time(i.first_timestamp)} to {iso_time(i.last_timestamp)}"
    merged = f", {count(i.merged)} merged" if i.merged else ""
    lines = [
        f"Read {count(i.files)} file(s): {count(i.records)} records, "
        f"{count(i.skipped)} skipped, {count(i.ignored)} ignored{merged}{span}"
    ]
    lines += [f"  skipped file {file}: {reason}" for file, reason in i.skipped_files]
    lines += [f"  skipped {example}" for example in i.skipped_examples]
    if i.skipped > len(i.skipped_examples):
        lines.append(f"  ... and {i.skipped - len(i.skipped_examples)} more skipped")
    if i.invalid:
        kinds = ", ".join(f"{problem} ({count(n)})" for problem, n in i.invalid_values)
        lines.append(f"  dropped {count(i.invalid)} implausible value(s): {kinds}")
        lines += [f"  dropped {example}" for example in i.invalid_examples]
    return lines
