"""The library API: a report from paths and a config, without a terminal.

>>> import botistat
>>> report = botistat.build_report(["sample_logs/"])          # doctest: +SKIP
>>> report.metrics.messages.total                              # doctest: +SKIP

:func:`build_report` is the documented entry point; :class:`ReportRequest` and
:func:`make_report` are what the commands use (they carry the command-line spelling of each
option). Nothing here prints: warnings are facts in the returned :class:`Report` (skipped
lines, an empty input), for the caller to show.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from botistat.core.config import Config, load_config, parse_config, validate_timezone
from botistat.core.errors import BotistatError, ConfigError
from botistat.core.model import Comparison, InputSummary, Report
from botistat.core.pricing import ModelPrice, PriceBook
from botistat.core.schema import GROUP_KEYS
from botistat.core.timerange import named_range, parse_span, parse_time, previous_period
from botistat.engine.runner import Inputs, engine_for
from botistat.engine.runner import ReportProgress as ReportProgress  # part of the API
from botistat.ingest.sources import Source
from botistat.report.options import ReportOptions, SpikeOptions


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked for, as given on the command line."""

    paths: list[str]
    config: Path | None = None
    since: str | None = None
    until: str | None = None
    by: str | None = None
    top: int = 10
    #: Conversations, users and models in the report's top lists.
    top_items: int = 10
    #: ``jsonl``, ``csv``, ``tsv``; None: by extension, then by content.
    input_format: str | None = None
    strict: bool = False
    geoip_db: Path | None = None
    memory_budget: str | None = None
    #: Spill to exactly this many partitions (None: as the memory budget decides).
    partitions: int | None = None
    spikes: SpikeRequest = field(default_factory=lambda: SpikeRequest())
    period: PeriodRequest = field(default_factory=lambda: PeriodRequest())
    #: ``local`` or ``dask`` (None: the config's, else local), and the Dask scheduler's
    #: address (None: the config's, else a cluster of processes on this machine).
    engine: str | None = None
    scheduler: str | None = None
    #: Keep what parsing gave here, and parse only what is new (None: the config's
    #: ``cache.dir``, if any); ``no_cache``: neither.
    cache: Path | None = None
    no_cache: bool = False


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


#: Given the total bytes to read, a context that yields a progress display (or None).
ProgressFactory = Callable[[int], AbstractContextManager[ReportProgress | None]]


def build_report(
    paths: Sequence[str | os.PathLike[str]],
    config: Config | str | os.PathLike[str] | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    range: str | None = None,
    tz: str | None = None,
    compare: bool = False,
    by: str | None = None,
    top: int = 10,
    top_items: int = 10,
    preset: str | None = None,
    input_format: str | None = None,
    strict: bool = False,
    geoip_db: str | os.PathLike[str] | None = None,
    memory_budget: str | None = None,
    bucket: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
) -> Report:
    """Read the logs at ``paths`` (files, directories, globs, ``-`` for stdin) and return the
    :class:`~botistat.core.model.Report`.

    ``config`` is a :class:`~botistat.core.config.Config`, the path of a YAML config, or None
    for the defaults (no config file is looked for). The keyword options mean what the
    ``report`` command's options of the same name mean (``since``/``until`` take ISO times,
    dates or spans such as ``7d``; ``bucket`` is the timeline's and the spikes' time bucket,
    such as ``5m``). ``top_items`` is how many conversations, users and models
    ``report.top_usage`` lists, those with the most tokens. When neither ``config`` nor
    ``preset`` says how to read the logs, a known format is recognised from the first records
    of the first input and its preset used (``report.input.preset``,
    ``report.input.preset_detected_from``); ``preset="none"`` turns that off. ``cache`` is a
    directory where what parsing gave is kept, so that the next call parses only what is new
    (the config's ``cache.dir`` when None); ``engine="dask"`` computes the report on the Dask
    cluster at ``scheduler`` (None: worker processes on this machine). What a caller should
    know about the cache (damaged, not writable) is issued as a :class:`UserWarning`. Raises
    :class:`~botistat.core.errors.BotistatError` for anything the caller can fix (a bad path,
    a bad option, malformed input with ``strict``).
    """
    import warnings

    settings = _settings(config, preset)
    request = ReportRequest(
        paths=[os.fspath(p) for p in paths],
        since=since,
        until=until,
        by=by,
        top=top,
        top_items=top_items,
        input_format=input_format,
        strict=strict,
        geoip_db=Path(geoip_db) if geoip_db is not None else None,
        memory_budget=memory_budget,
        spikes=SpikeRequest(bucket=bucket),
        period=PeriodRequest(range=range, tz=tz, compare=compare),
        engine=engine,
        scheduler=scheduler,
        cache=Path(cache) if cache is not None else None,
    )
    notes: list[str] = []
    report = make_report(request, settings, warnings=notes)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return report


def make_report(
    request: ReportRequest,
    settings: Config,
    progress: ProgressFactory | None = None,
    warnings: list[str] | None = None,
) -> Report:
    """Read the inputs and build the report (and the previous period's, to compare);
    ``progress`` shows the bytes read, then the analysis (the CLI's bar on a terminal).
    What the user should know about the cache (damaged, not writable, not used) is appended
    to ``warnings``."""
    from botistat.engine.memory import tune_allocators
    from botistat.engine.partition import default_memory_budget, parse_size, partitions_for
    from botistat.geo import open_country_source
    from botistat.ingest import resolve_sources

    if request.by is not None and request.by not in GROUP_KEYS:
        raise ConfigError(
            f"cannot group by {request.by!r}", "--by", f"choose one of: {', '.join(GROUP_KEYS)}"
        )
    if request.top_items < 0:
        raise ConfigError(f"cannot list {request.top_items} items", "top_items", "give 0 or more")
    if request.period.tz:
        validate_timezone(request.period.tz, "--tz")
        settings = replace(settings, timezone=request.period.tz)
    budget = parse_size(request.memory_budget) if request.memory_budget else default_memory_budget()
    since, until = _period(request, settings.timezone)
    sources = resolve_sources(request.paths, request.input_format)
    settings = detected_settings(settings, sources)
    options = ReportOptions(
        by=request.by,
        top=request.top,
        top_items=request.top_items,
        since=since,
        until=until,
        timezone=settings.timezone,
        partitions=request.partitions or partitions_for(sources, budget),
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
    shown = progress or (lambda _total: nullcontext(None))
    notes = warnings if warnings is not None else []
    engine = request.engine or settings.engine
    if engine == "local" and request.scheduler is not None:
        raise ConfigError("--scheduler needs --engine dask", "--scheduler")
    cache, max_bytes = _cache_asked(request, settings, notes, on_cluster=engine != "local")
    with (
        engine_for(engine, request.scheduler or settings.scheduler) as run,
        Inputs(
            sources, settings, notes, strict=request.strict, directory=cache, max_bytes=max_bytes
        ) as read,
    ):

        def reported(display: ReportProgress | None) -> Report:
            report = run(read, options, countries, prices, display)
            if request.period.compare:
                assert since is not None and until is not None  # checked above
                before, after = previous_period(since, until)
                earlier_options = replace(options, since=before, until=after)
                earlier = run(read, earlier_options, countries, prices, None)
                report = replace(report, previous=Comparison(earlier.input, earlier.metrics))
            if report.input.records == 0 and report.input.read and (since or until):
                report = _with_read_span(report, sources, read)
            return report

        with shown(sum(s.size or 0 for s in sources)) as display:
            try:
                report = reported(display)
            except Exception as exc:
                # A segment damaged where no check looks (its size and checksum were right
                # when read): whatever reading it raised, the report is made again without
                # the cache.
                if not read.from_cache or isinstance(exc, BotistatError):
                    raise
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                notes.append(
                    f"cache {read.directory}: cannot read it ({reason}); reading without it"
                )
                read.from_cache = False
                report = reported(None)
    return _with_preset(report, settings)


def _cache_asked(
    request: ReportRequest, settings: Config, notes: list[str], *, on_cluster: bool
) -> tuple[Path | None, int | None]:
    """The cache directory to use (None: none) and its size cap (None: the default)."""
    from botistat.engine.partition import parse_size

    directory = None if request.no_cache else request.cache or settings.cache.dir
    if directory is not None and on_cluster:
        notes.append(f"cache {directory}: not used on a Dask cluster (the workers read the inputs)")
        return None, None
    size = settings.cache.max_size
    try:
        return directory, parse_size(size) if size else None
    except ConfigError:
        raise ConfigError(
            f"cannot read size {size!r}", "cache.max_size", "use a size such as 2G"
        ) from None


def _with_read_span(report: Report, sources: list[Source], read: Inputs) -> Report:
    """The report, saying when the records that the time range left out were: a second
    pass over the inputs, only when the range left nothing (standard input is gone by
    then: its records are only counted)."""
    import polars as pl

    if any(source.is_stdin for source in sources):
        return report
    times = read.scan().frame.select(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    )
    first, last = times.collect().row(0)
    return replace(report, input=replace(report.input, read_first=first, read_last=last))


def detected_settings(settings: Config, sources: list[Source]) -> Config:
    """``settings`` with the preset the inputs are written in, when nothing in them says how
    to read the logs and the first input's head shows a known format (see
    :mod:`botistat.ingest.detect`); else ``settings`` unchanged."""
    from botistat.core.presets import PRESETS
    from botistat.ingest.detect import detect_preset

    if not settings.detects_preset:
        return settings
    found = detect_preset(sources)
    if found is None:
        return settings
    return settings.with_preset(PRESETS[found.preset], found.source)


def detected_settings_for(
    paths: Sequence[str], settings: Config, input_format: str | None = None
) -> Config:
    """:func:`detected_settings` for paths as given (``watch``): paths that do not resolve
    (yet) tell nothing, and whoever reads them reports why; nor does standard input, whose
    first line a watch may wait for indefinitely (peeking at it would block the start)."""
    from botistat.core.errors import InputError
    from botistat.ingest import resolve_sources

    if not settings.detects_preset:
        return settings
    try:
        sources = resolve_sources(list(paths), input_format)
    except InputError:
        return settings
    return detected_settings(settings, [source for source in sources if not source.is_stdin])


def _with_preset(report: Report, settings: Config) -> Report:
    """The report, saying which preset read it and whether it was detected."""

    def told(summary: InputSummary) -> InputSummary:
        return replace(
            summary, preset=settings.preset, preset_detected_from=settings.preset_detected_from
        )

    previous = report.previous
    if previous is not None:
        previous = replace(previous, input=told(previous.input))
    return replace(report, input=told(report.input), previous=previous)


def _settings(config: Config | str | os.PathLike[str] | None, preset: str | None) -> Config:
    if isinstance(config, Config):
        if preset is not None:
            raise ConfigError("a preset cannot be applied to a Config object", "preset")
        return config
    if config is not None:
        return load_config(Path(config), preset)
    # A library call does not look for a config file in the working directory.
    return parse_config({}, preset_name=preset) if preset else Config()


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
    if since is not None and until is not None and since >= until:
        if request.until is None:  # --compare: the period ends now
            raise ConfigError(
                f"--since {request.since} is not before now",
                "--since",
                "with --compare and no --until the period ends now",
            )
        raise ConfigError(
            f"--since {request.since} is not before --until {request.until}",
            "--since, --until",
            "the range is [since, until): give the earlier time to --since",
        )
    return since, until
