"""Which engine runs a report, and what it reads: the inputs themselves, or the cache.

:func:`engine_for` gives the engine asked for, ready to run (for ``dask``, a client connected
for the whole command); each engine takes :class:`Inputs`, the report options, the country
source, the prices and a progress display. :class:`Inputs` scans the inputs, through an
on-disk cache when one is asked for and usable. ``botistat.api.make_report`` puts the two
together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from botistat.core.config import ENGINES, Config
from botistat.core.errors import ConfigError
from botistat.core.model import Report
from botistat.core.pricing import PriceBook
from botistat.engine.local import KeptPartials, report_from_scan
from botistat.geo.sources import CountrySource
from botistat.ingest import Scan, Source
from botistat.report.options import ReportOptions

if TYPE_CHECKING:
    from botistat.engine.cache import InputCache


class ReportProgress(Protocol):
    """What a report tells a progress display while it works."""

    def read(self, nbytes: int) -> None:
        """``nbytes`` more of the inputs were read."""

    def analysing(self, done: int, total: int) -> None:
        """The inputs are read; the records are being analysed: ``done`` of ``total`` pieces
        (one piece when the records fit in memory, else one per partition)."""


#: Runs a report: the inputs, options, countries, prices and the progress display (or None).
Engine = Callable[
    ["Inputs", ReportOptions, CountrySource, PriceBook, ReportProgress | None], Report
]


@contextmanager
def engine_for(name: str, scheduler: str | None) -> Iterator[Engine]:
    """The engine called ``name`` (one of :data:`~botistat.core.config.ENGINES`)."""
    if name not in ENGINES:
        raise ConfigError(
            f"unknown engine {name!r}", "--engine", f"choose one of: {', '.join(ENGINES)}"
        )
    if name == "local":
        yield _local_report
        return
    from botistat.engine.cluster import dask_client, report_on_cluster

    with dask_client(scheduler) as client:

        def on_cluster(
            inputs: Inputs,
            options: ReportOptions,
            countries: CountrySource,
            prices: PriceBook,
            display: ReportProgress | None,
        ) -> Report:
            # The workers read the inputs. The progress: each input's bytes once a worker
            # has parsed it, then the partitions as their partials come back.
            return report_on_cluster(
                client,
                inputs.sources,
                inputs.settings,
                options,
                countries,
                prices,
                strict=inputs.strict,
                progress=display.read if display else None,
                analysed=display.analysing if display else None,
            )

        yield on_cluster


def _local_report(
    inputs: Inputs,
    options: ReportOptions,
    countries: CountrySource,
    prices: PriceBook,
    display: ReportProgress | None,
) -> Report:
    analysed = display.analysing if display else None
    scan = inputs.scan(display)
    settled = inputs.settled(scan, options, countries, prices)
    return report_from_scan(scan, options, countries, prices, analysed, settled)


class Inputs:
    """Scans the inputs (each :meth:`scan` a new pass), through the cache in ``directory``
    when one is given and usable (``from_cache``); a cache that cannot be used is a warning
    in ``notes``, and the run goes on without it. A context manager: the cache is held
    (locked) inside."""

    def __init__(
        self,
        sources: list[Source],
        settings: Config,
        notes: list[str],
        *,
        strict: bool = False,
        directory: Path | None = None,
        max_bytes: int | None = None,
    ) -> None:
        from botistat.engine.cache import DEFAULT_MAX_BYTES, InputCache

        self.sources, self.settings, self.strict = sources, settings, strict
        self.directory = directory
        self._notes = notes
        self._cache: InputCache | None = (
            InputCache(directory, max_bytes or DEFAULT_MAX_BYTES) if directory else None
        )
        self._scan: Scan | None = None
        self.from_cache = False

    def __enter__(self) -> Inputs:
        from botistat.engine.cache import CacheUnusableError

        if self._cache is not None:
            try:
                self._cache.__enter__()
                self.from_cache = True
            except CacheUnusableError as exc:
                self._notes.append(f"cache {self.directory}: {exc}; reading without it")
                self._cache = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cache is not None:
            self._cache.__exit__(None, None, None)
            self._notes.extend(self._cache.warnings)

    def settled(
        self, scan: Scan, options: ReportOptions, countries: CountrySource, prices: PriceBook
    ) -> KeptPartials | None:
        """The partial results the cache kept for these report options (after :meth:`scan`),
        or None without a cache."""
        from botistat.engine.cache.settled import options_key

        if not self.from_cache or self._cache is None or self._scan is not scan:
            return None
        key = options_key(options, countries.info, prices, scan.constants)
        return self._cache.settled(key, options.since, options.until)

    def scan(self, display: ReportProgress | None = None) -> Scan:
        """A pass over the inputs, shown on ``display``."""
        from botistat.engine.cache import CacheUnusableError
        from botistat.ingest import scan_sources

        on_progress = display.read if display else None
        if self.from_cache and self._cache is not None:
            if self._scan is None:
                try:
                    self._scan = self._cache.scan(
                        self.sources, self.settings, strict=self.strict, progress=on_progress
                    )
                except CacheUnusableError as exc:
                    self._notes.append(f"cache {self.directory}: {exc}; reading without it")
                    self.from_cache = False
            if self._scan is not None and self.from_cache:
                return self._scan
        return scan_sources(
            self.sources,
            self.settings,
            strict=self.strict,
            progress=on_progress,
            read_all=(lambda: display.analysing(0, 1)) if display else None,
        )
