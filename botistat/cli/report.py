"""``botistat report``: every metric for a set of log files."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from botistat.cli.common import (
    is_terminal,
    progress_bar,
    terminal_width,
    user_errors,
    warn,
    write_output,
)
from botistat.errors import ConfigError
from botistat.schema import GROUP_KEYS


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class InputFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"
    tsv = "tsv"


OUTPUT_SUFFIXES = {".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}

PathsArgument = Annotated[
    list[str],
    typer.Argument(
        help="Log files, directories (searched recursively), glob patterns, or - for stdin.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file. Default: ./botistat.yaml, then ~/.config/botistat/config.yaml.",
        show_default=False,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Only records at or after this time: ISO time, date, or span (24h, 7d)."),
]
UntilOption = Annotated[
    str | None,
    typer.Option(help="Only records before this time: ISO time, date, or span (24h, 7d)."),
]
ByOption = Annotated[
    str | None,
    typer.Option(help=f"Break every metric down by one of: {', '.join(GROUP_KEYS)}."),
]
InputFormatOption = Annotated[
    InputFormat,
    typer.Option(
        "--input-format", help="Input format; auto decides by file extension, then content."
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (exit 2) on the first malformed line.")
]


def report(
    paths: PathsArgument,
    config: ConfigOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    by: ByOption = None,
    top: Annotated[
        int, typer.Option(min=1, help="How many countries to list before 'Other'.")
    ] = 10,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format. Default: table on a terminal, json when piped, "
            "or from the --output file's extension.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout."),
    ] = None,
    input_format: InputFormatOption = InputFormat.auto,
    strict: StrictOption = False,
    geoip_db: Annotated[
        Path | None,
        typer.Option(
            "--geoip-db",
            help="GeoLite2/GeoIP2/DB-IP Country or City .mmdb file for IP -> country. Default: "
            "config geoip.database, $BOTISTAT_GEOIP_DB, /usr/share/GeoIP, /var/lib/GeoIP, "
            "else offline registry data.",
            show_default=False,
        ),
    ] = None,
    memory_budget: Annotated[
        str | None,
        typer.Option(
            help="Memory for the records being analysed (512M, 2G). Bigger inputs are spilled "
            "to temporary files, by conversation. Default: 1/8 of RAM, 256M to 1G.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Report message volume, response speed, tokens, errors and countries."""
    with user_errors():
        from botistat.config import load_config
        from botistat.geo import open_country_source
        from botistat.ingest import resolve_sources, scan_sources
        from botistat.partition import default_memory_budget, parse_size, partitions_for
        from botistat.render import Terminal, render
        from botistat.report import ReportOptions, build_report
        from botistat.timerange import parse_time

        settings = load_config(config)
        budget = parse_size(memory_budget) if memory_budget else default_memory_budget()
        if by is not None and by not in GROUP_KEYS:
            raise ConfigError(
                f"cannot group by {by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}"
            )
        now = datetime.now(UTC)
        options = ReportOptions(
            by=by,
            top=top,
            since=parse_time(since, option="--since", now=now, timezone=settings.timezone)
            if since
            else None,
            until=parse_time(until, option="--until", now=now, timezone=settings.timezone)
            if until
            else None,
            timezone=settings.timezone,
        )
        sources = resolve_sources(
            paths, None if input_format is InputFormat.auto else input_format.value
        )
        options = replace(options, partitions=partitions_for(sources, budget))
        countries = open_country_source(geoip_db, settings.geoip_database)
        total_bytes = sum(s.size or 0 for s in sources)
        with progress_bar(total_bytes) as on_progress:
            scan = scan_sources(sources, settings, strict=strict, progress=on_progress)
            result = build_report(scan, options, countries)

        if result.input.records == 0:
            warn("no records found in the input")
        if result.input.skipped:
            first = result.input.skipped_examples[0] if result.input.skipped_examples else ""
            warn(f"skipped {result.input.skipped:,} malformed line(s); first: {first}")

        chosen = _output_format(fmt, output)
        to_terminal = output is None and is_terminal(sys.stdout)
        terminal = Terminal(color=to_terminal, width=terminal_width() if to_terminal else 100)
        write_output(render(result, chosen, terminal), output)


def _output_format(fmt: OutputFormat | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt.value
    if output is not None:
        return OUTPUT_SUFFIXES.get(output.suffix.lower(), "json")
    return "table" if is_terminal(sys.stdout) else "json"
