"""From command-line inputs to a Report: config, sources, country source, scan, build.

Shared by every command that reports on logs; prints only warnings (on stderr).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from botistat.cli.common import progress_bar, warn
from botistat.cli.options import InputFormat
from botistat.config import Config, validate_timezone
from botistat.errors import ConfigError
from botistat.model import Comparison, Report
from botistat.pricing import ModelPrice, PriceBook
from botistat.report import ReportOptions, SpikeOptions, build_report
from botistat.schema import GROUP_KEYS
from botistat.timerange import named_range, parse_span, parse_time, previous_period


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked for, as given on the command line."""

    paths: list[str]
    config: Path | None = None
    since: str | None = None
    until: str | None = None
    by: str | None = None
    top: int = 10
    input_format: InputFormat = InputFormat.auto
    strict: bool = False
    geoip_db: Path | None = None
    memory_budget: str | None = None
    spikes: SpikeRequest = field(default_factory=lambda: SpikeRequest())
    period: PeriodRequest = field(default_factory=lambda: PeriodRequest())


@dataclass(frozen=True)
class PeriodRequest:
    """``--range``, ``--tz`` and ``--compare`` as given."""

    range: str | None = None
    tz: str | None = None
    compare: bool = False


@dataclass(frozen=True)
class SpikeRequest:
    """Spike options as given on the command line (None: config, then default)."""

    bucket: str | None = None
    window: int | None = None
    sensitivity: float | None = None
    min_ratio: float | None = None
    min_tokens: float | None = None


def spike_options(request: SpikeRequest, settings: Config, default_bucket: str) -> SpikeOptions:
    """Command line over config over defaults."""
    configured = settings.spikes
    bucket = request.bucket or configured.bucket or default_bucket
    span = parse_span(bucket)
    if span is None or span.total_seconds() < 1:
        raise ConfigError(
            f"cannot read bucket {bucket!r}", "--bucket", "use a duration such as 1m, 5m or 1h"
        )

    def pick(given: float | None, from_config: float | None, default: float) -> float:
        return given if given is not None else from_config if from_config is not None else default

    defaults = SpikeOptions()
    return SpikeOptions(
        bucket_seconds=int(span.total_seconds()),
        window=int(pick(request.window, configured.window, defaults.window)),
        sensitivity=pick(request.sensitivity, configured.sensitivity, defaults.sensitivity),
        min_ratio=pick(request.min_ratio, configured.min_ratio, defaults.min_ratio),
        min_tokens=pick(request.min_tokens, configured.min_tokens, defaults.min_tokens),
    )


def make_report(request: ReportRequest, settings: Config) -> Report:
    """Read the inputs and build the report (and the previous period's, to compare), with a
    progress bar on a terminal."""
    from botistat.geo import open_country_source
    from botistat.ingest import resolve_sources, scan_sources
    from botistat.memory import tune_allocators
    from botistat.partition import default_memory_budget, parse_size, partitions_for

    if request.by is not None and request.by not in GROUP_KEYS:
        raise ConfigError(
            f"cannot group by {request.by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}"
        )
    if request.period.tz:
        validate_timezone(request.period.tz, "--tz")
        settings = replace(settings, timezone=request.period.tz)
    budget = parse_size(request.memory_budget) if request.memory_budget else default_memory_budget()
    since, until = _period(request, settings.timezone)
    fmt = request.input_format.source_format
    sources = resolve_sources(request.paths, fmt)
    options = ReportOptions(
        by=request.by,
        top=request.top,
        since=since,
        until=until,
        timezone=settings.timezone,
        partitions=partitions_for(sources, budget),
        spikes=spike_options(request.spikes, settings, "1h"),
        merge_messages=settings.merges_messages,
    )
    if request.period.compare:
        if since is None or until is None:
            raise ConfigError(
                "--compare needs a period", "--compare", "give --range, or --since (and --until)"
            )
        if any(source.is_stdin for source in sources):
            # The previous period is a second pass over the inputs; stdin has gone by then.
            raise ConfigError(
                "--compare cannot read standard input twice", "--compare", "pass the log files"
            )
    prices = price_book(settings)
    countries = open_country_source(request.geoip_db, settings.geoip_database)
    tune_allocators()
    with progress_bar(sum(s.size or 0 for s in sources)) as on_progress:
        scan = scan_sources(sources, settings, strict=request.strict, progress=on_progress)
        report = build_report(scan, options, countries, prices)
    if report.input.records == 0:
        warn("no records found in the input")
    if report.input.skipped:
        first = report.input.skipped_examples[0] if report.input.skipped_examples else ""
        warn(f"skipped {report.input.skipped:,} malformed line(s); first: {first}")
    if request.period.compare:
        assert since is not None and until is not None  # checked above
        before, after = previous_period(since, until)
        earlier = build_report(
            scan_sources(sources, settings, strict=request.strict),
            replace(options, since=before, until=after),
            countries,
            prices,
        )
        report = replace(report, previous=Comparison(earlier.input, earlier.metrics))
    return report


def price_book(settings: Config) -> PriceBook:
    """Config prices over the genai-prices table."""
    overrides = {
        model: ModelPrice(
            input=rates["input"],
            output=rates["output"],
            cache_read=rates.get("cache_read"),
            cache_write=rates.get("cache_write"),
            source="config",
        )
        for model, rates in settings.prices.items()
    }
    return PriceBook(overrides)


def _period(request: ReportRequest, zone: str) -> tuple[datetime | None, datetime | None]:
    """``[since, until)`` from ``--range`` or ``--since/--until`` (``until`` defaults to now
    when comparing, so the previous period has a length)."""
    now = datetime.now(UTC)
    if request.period.range:
        if request.since or request.until:
            raise ConfigError("--range cannot be combined with --since/--until", "--range")
        return named_range(request.period.range, now=now, timezone=zone)

    def when(text: str | None, option: str) -> datetime | None:
        return parse_time(text, option=option, now=now, timezone=zone) if text else None

    since, until = when(request.since, "--since"), when(request.until, "--until")
    if request.period.compare and since is not None and until is None:
        until = now
    return since, until
