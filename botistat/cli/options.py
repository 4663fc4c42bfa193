"""Options shared by the commands that read logs (report, check, ...)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from botistat.core.schema import GROUP_KEYS

if TYPE_CHECKING:
    from botistat.ingest.sources import Format


class InputFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"
    tsv = "tsv"

    @property
    def source_format(self) -> Format | None:
        """The format to read inputs as; None: decide from the file name or content."""
        return None if self is InputFormat.auto else cast("Format", self.value)


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
        metavar="FILE",
        help="Config file. Default: ./botistat.yaml, then config.yaml in ~/.config/botistat "
        "(botistat config shows which is used).",
        show_default=False,
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        metavar="T",
        help="Only records at or after this time: ISO time, date, or span (24h, 7d).",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        metavar="T",
        help="Only records before this time: ISO time, date, or span (24h, 7d). "
        "Must be after --since.",
    ),
]
#: A list so that a second --by is an error rather than silently the one that counts.
ByOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="KEY",
        help=f"Break every metric down by one of: {', '.join(GROUP_KEYS)}.",
        show_default=False,
    ),
]
InputFormatOption = Annotated[
    InputFormat,
    typer.Option(
        "--input-format",
        metavar="FORMAT",
        help="auto (by file extension, then content), jsonl, csv or tsv.",
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (exit 2) on the first malformed line.")
]
GeoipOption = Annotated[
    Path | None,
    typer.Option(
        "--geoip-db",
        metavar="FILE",
        help="GeoLite2/GeoIP2/DB-IP Country or City .mmdb file for IP -> country. Default: "
        "config geoip.database, $BOTISTAT_GEOIP_DB, /usr/share/GeoIP, /var/lib/GeoIP, "
        "else offline registry data.",
        show_default=False,
    ),
]
MemoryBudgetOption = Annotated[
    str | None,
    typer.Option(
        metavar="SIZE",
        help="Memory for the records being analysed (512M, 2G). Bigger inputs are spilled "
        "to temporary files, by conversation. Default: 1/8 of RAM, 256M to 1G.",
        show_default=False,
    ),
]
#: Hidden: spill to exactly this many partitions whatever the input's size (tests use it to
#: run the partitioned engine on small inputs, where the budget would keep them in memory).
PartitionsOption = Annotated[
    int | None,
    typer.Option("--partitions", metavar="N", min=1, max=4096, hidden=True),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="NAME",
        help="local (this process) or dask (a Dask cluster: --scheduler's, else worker "
        "processes on this machine; needs the dask extra of botistat). Default: config "
        "engine, else local.",
        show_default=False,
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="The Dask scheduler for --engine dask, such as tcp://10.0.0.5:8786. Default: "
        "config scheduler, else a cluster started on this machine.",
        show_default=False,
    ),
]
BucketOption = Annotated[
    str | None,
    typer.Option(
        metavar="DURATION",
        help="Time bucket for spike detection (1m, 5m, 1h, ...). Default: config, else 1h "
        "for report and 5m for watch.",
        show_default=False,
    ),
]
WindowOption = Annotated[
    int | None,
    typer.Option(
        metavar="N", min=1, help="Buckets in the spike baseline. Default: 24.", show_default=False
    ),
]
SensitivityOption = Annotated[
    float | None,
    typer.Option(
        metavar="X",
        min=0,
        help="Spike: above median + this many scaled MADs. Default: 5.",
        show_default=False,
    ),
]
MinRatioOption = Annotated[
    float | None,
    typer.Option(
        "--min-ratio",
        metavar="X",
        min=0,
        help="Spike: at least this many times the median. Default: 2.",
        show_default=False,
    ),
]
MinTokensOption = Annotated[
    float | None,
    typer.Option(
        "--min-tokens",
        metavar="N",
        min=0,
        help="Token spike: at least this many tokens in the bucket. Default: 5000.",
        show_default=False,
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        metavar="DIR",
        help="Keep what parsing gave in DIR, and next time parse only what is new in the "
        "inputs (appended lines, rotated files). Default: the config's cache.dir, if any.",
        show_default=False,
    ),
]
NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Parse every input, ignoring a cache the config names.",
        show_default=False,
    ),
]
RangeOption = Annotated[
    str | None,
    typer.Option(
        "--range",
        metavar="NAME",
        help="A named period instead of --since/--until: today, yesterday, last-24h, last-7d, "
        "this-week, last-week, this-month, last-month.",
        show_default=False,
    ),
]
TzOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone for ranges, dates, day/hour groups and naive timestamps "
        "(e.g. Europe/Berlin). Default: config timezone, else UTC.",
        show_default=False,
    ),
]


class CompareWith(StrEnum):
    previous = "previous"


CompareOption = Annotated[
    CompareWith | None,
    typer.Option(
        "--compare",
        help="previous: add the period of equal length before, and the change of every KPI.",
        show_default=False,
    ),
]
PresetOption = Annotated[
    str | None,
    typer.Option(
        "--preset",
        metavar="NAME",
        help="A ready mapping for a known log format (see: botistat presets). "
        "The config's own fields: still win. Default: the config's preset:, else one "
        "detected from the logs when the config maps no fields; none turns detection off.",
        show_default=False,
    ),
]


def only_one(values: list[str] | None, option: str) -> str | None:
    """The value of an option that takes one: given twice, it is an error (Click would keep
    the last one without a word)."""
    from botistat.core.errors import ConfigError

    if not values:
        return None
    if len(values) > 1:
        raise ConfigError(
            f"{option} given {len(values)} times ({', '.join(values)})",
            option,
            f"one breakdown at a time: give {option} once",
        )
    return values[0]
