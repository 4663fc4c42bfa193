"""``botistat check``: a CI gate that fails (exit 1) when a threshold is breached."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from botistat.cli.common import terminal_for, user_errors, warn, write_output
from botistat.cli.options import (
    ByOption,
    CacheOption,
    ConfigOption,
    EngineOption,
    GeoipOption,
    InputFormat,
    InputFormatOption,
    MemoryBudgetOption,
    NoCacheOption,
    PartitionsOption,
    PathsArgument,
    PresetOption,
    RangeOption,
    SchedulerOption,
    SinceOption,
    StrictOption,
    TzOption,
    UntilOption,
    only_one,
)
from botistat.core.errors import ConfigError, ExitCode


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


def check(
    paths: PathsArgument,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            "-t",
            metavar="EXPR",
            help="'<metric> <op> <value>', e.g. 'errors.rate < 2%' or 'response_ms.p95 < 3s'. "
            "Repeatable; added to the config's thresholds: list.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    preset: PresetOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    by: ByOption = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CheckFormat.table,
    junit: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write JUnit XML here (a test case per threshold and group).",
        ),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Let thresholds with no data pass instead of failing."),
    ] = False,
    input_format: InputFormatOption = InputFormat.auto,
    strict: StrictOption = False,
    geoip_db: GeoipOption = None,
    memory_budget: MemoryBudgetOption = None,
    cache: CacheOption = None,
    no_cache: NoCacheOption = False,
    partitions: PartitionsOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    range_name: RangeOption = None,
    tz: TzOption = None,
) -> None:
    """Check thresholds such as the error rate: exit 0 if all hold, 1 if any is breached.

    Every numeric metric of the report's JSON can be checked. Counts and sums are 0 when
    there are no records (messages.total > 0 fails when the logs stop); a rate, average or
    percentile with nothing to compute it from (no records, no replies, no bot records) is
    "no data" and fails unless --allow-empty is given. With --by, each threshold is checked
    in every group.
    """
    with user_errors():
        from botistat.api import PeriodRequest, ReportRequest
        from botistat.cli.common import run_report
        from botistat.cli.report import announce_preset
        from botistat.core.config import load_settings
        from botistat.render.check import (
            check_section,
            github_annotations,
            render_check_json,
            render_junit,
            render_summary_markdown,
        )
        from botistat.render.table import render_sections
        from botistat.report.thresholds import evaluate, parse_thresholds

        settings = load_settings(config, preset)
        thresholds = parse_thresholds(threshold or [], "--threshold")
        thresholds += parse_thresholds(settings.thresholds, str(settings.path))
        if not thresholds:
            raise ConfigError(
                "no thresholds to check",
                "--threshold",
                "give --threshold 'errors.rate < 2%' or a thresholds: list in the config",
            )
        request = ReportRequest(
            paths=paths,
            config=config,
            since=since,
            until=until,
            by=only_one(by, "--by"),
            input_format=input_format.source_format,
            strict=strict,
            geoip_db=geoip_db,
            memory_budget=memory_budget,
            cache=cache,
            no_cache=no_cache,
            partitions=partitions,
            engine=engine,
            scheduler=scheduler,
            period=PeriodRequest(range_name, tz),
        )
        report = run_report(request, settings)
        announce_preset(report.input.preset, report.input.preset_detected_from)
        result = evaluate(thresholds, report, allow_empty=allow_empty)

        if fmt is CheckFormat.json:
            text = render_check_json(result)
        else:
            shown_on = terminal_for(sys.stdout)
            text = render_sections(
                [check_section(result)],
                [],
                color=shown_on.color,
                width=shown_on.width,
                tty=shown_on.tty,
            )
        write_output(text, None)
        if junit is not None:
            write_output(render_junit(result), junit)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in github_annotations(result):
                print(line, file=sys.stderr)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                _append_summary(Path(summary), render_summary_markdown(result))
    raise typer.Exit(int(ExitCode.OK if result.passed else ExitCode.THRESHOLD_BREACHED))


def _append_summary(path: Path, markdown: str) -> None:
    """Append to the GitHub step summary; a summary that cannot be written is a warning,
    never the verdict (a gate whose thresholds all held must not fail over it)."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(markdown)
    except OSError as exc:
        warn(f"cannot write the GitHub step summary: {exc.strerror} ({path})")
