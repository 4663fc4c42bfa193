"""From command-line inputs to a Report: config, sources, country source, scan, build.

Shared by every command that reports on logs; prints only warnings (on stderr).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from botistat.cli.common import progress_bar, warn
from botistat.cli.options import InputFormat
from botistat.config import Config
from botistat.errors import ConfigError
from botistat.model import Report
from botistat.schema import GROUP_KEYS


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


def make_report(request: ReportRequest, settings: Config) -> Report:
    """Read the inputs and build the report, with a progress bar on a terminal."""
    from botistat.geo import open_country_source
    from botistat.ingest import resolve_sources, scan_sources
    from botistat.partition import default_memory_budget, parse_size, partitions_for
    from botistat.report import ReportOptions, build_report
    from botistat.timerange import parse_time

    if request.by is not None and request.by not in GROUP_KEYS:
        raise ConfigError(
            f"cannot group by {request.by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}"
        )
    budget = parse_size(request.memory_budget) if request.memory_budget else default_memory_budget()
    now = datetime.now(UTC)
    zone = settings.timezone

    def when(text: str | None, option: str) -> datetime | None:
        return parse_time(text, option=option, now=now, timezone=zone) if text else None

    fmt = None if request.input_format is InputFormat.auto else request.input_format.value
    sources = resolve_sources(request.paths, fmt)
    options = ReportOptions(
        by=request.by,
        top=request.top,
        since=when(request.since, "--since"),
        until=when(request.until, "--until"),
        timezone=zone,
        partitions=partitions_for(sources, budget),
    )
    countries = open_country_source(request.geoip_db, settings.geoip_database)
    with progress_bar(sum(s.size or 0 for s in sources)) as on_progress:
        scan = scan_sources(sources, settings, strict=request.strict, progress=on_progress)
        report = build_report(scan, options, countries)
    if report.input.records == 0:
        warn("no records found in the input")
    if report.input.skipped:
        first = report.input.skipped_examples[0] if report.input.skipped_examples else ""
        warn(f"skipped {report.input.skipped:,} malformed line(s); first: {first}")
    return report
