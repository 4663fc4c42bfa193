"""``botistat report``: every metric for a set of log files."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from botistat.cli.common import is_terminal, terminal_for, to_file, user_errors, write_output
from botistat.cli.options import (
    BucketOption,
    ByOption,
    CacheOption,
    CompareOption,
    ConfigOption,
    EngineOption,
    GeoipOption,
    InputFormat,
    InputFormatOption,
    MemoryBudgetOption,
    MinRatioOption,
    MinTokensOption,
    NoCacheOption,
    PartitionsOption,
    PathsArgument,
    PresetOption,
    RangeOption,
    SchedulerOption,
    SensitivityOption,
    SinceOption,
    StrictOption,
    TzOption,
    UntilOption,
    WindowOption,
    only_one,
)
from botistat.cli.signals import PROGRAM


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"
    text = "text"


OUTPUT_SUFFIXES = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


def report(
    paths: PathsArgument,
    config: ConfigOption = None,
    preset: PresetOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    by: ByOption = None,
    top: Annotated[
        int, typer.Option(metavar="N", min=1, help="How many countries to list before 'Other'.")
    ] = 10,
    top_usage: Annotated[
        int,
        typer.Option(
            "--top-usage",
            metavar="N",
            min=0,
            help="How many conversations, users and models to list by tokens (0: none).",
        ),
    ] = 10,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, json, csv, markdown, html or text. Default: table on a terminal, "
            "json when piped, or from the --output file's extension.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file instead of stdout (- is stdout).",
        ),
    ] = None,
    input_format: InputFormatOption = InputFormat.auto,
    strict: StrictOption = False,
    geoip_db: GeoipOption = None,
    memory_budget: MemoryBudgetOption = None,
    cache: CacheOption = None,
    no_cache: NoCacheOption = False,
    partitions: PartitionsOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    bucket: BucketOption = None,
    window: WindowOption = None,
    sensitivity: SensitivityOption = None,
    min_ratio: MinRatioOption = None,
    min_tokens: MinTokensOption = None,
    range_name: RangeOption = None,
    tz: TzOption = None,
    compare: CompareOption = None,
) -> None:
    """Report message volume, response speed, tokens, errors and countries."""
    with user_errors():
        from botistat.api import PeriodRequest, ReportRequest, SpikeRequest
        from botistat.cli.common import run_report
        from botistat.core.config import load_settings
        from botistat.render import Terminal, render

        spikes = SpikeRequest(bucket, window, sensitivity, min_ratio, min_tokens)
        request = ReportRequest(
            paths=paths,
            config=config,
            since=since,
            until=until,
            by=only_one(by, "--by"),
            top=top,
            top_items=top_usage,
            input_format=input_format.source_format,
            strict=strict,
            geoip_db=geoip_db,
            memory_budget=memory_budget,
            cache=cache,
            no_cache=no_cache,
            partitions=partitions,
            engine=engine,
            scheduler=scheduler,
            spikes=spikes,
            period=PeriodRequest(range_name, tz, compare is not None),
        )
        result = run_report(request, load_settings(config, preset))
        announce_preset(result.input.preset, result.input.preset_detected_from)
        output = to_file(output)
        chosen = _output_format(fmt, output)
        shown_on = terminal_for(sys.stdout) if output is None else Terminal()
        write_output(render(result, chosen, shown_on), output)


def announce_preset(preset: str | None, detected_from: str | None) -> None:
    """One line on stderr when the preset was chosen from the logs' shape, not asked for."""
    if preset is not None and detected_from is not None:
        print(
            f"{PROGRAM}: using preset {preset} (detected from {detected_from}); "
            "--preset none turns this off",
            file=sys.stderr,
        )


def _output_format(fmt: OutputFormat | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt.value
    if output is not None:
        return OUTPUT_SUFFIXES.get(output.suffix.lower(), "json")
    return "table" if is_terminal(sys.stdout) else "json"
