"""Feed a :class:`LiveMonitor` from followed files, with the report's own ingestion.

Each poll hands the new complete lines of each file, as one block, to that file's
:class:`SourceDecoder`: Polars parses and types the whole batch, as for a report.

Records dated more than :data:`MAX_SKEW` ahead of this machine's clock are skipped as from the
future, with a warning naming the first: a typo'd year (2062, 9999) must not become the
monitor's "now". Within the skew a record is clock skew between hosts, and is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from botistat.core.config import Config
from botistat.core.errors import BotistatError, InputError
from botistat.ingest.blocks import Block, peek_head, source_blocks
from botistat.ingest.decoder import Decoded, SourceDecoder, format_of, sniff_format
from botistat.ingest.follow import STDIN_PATH, Chunk, Follower
from botistat.ingest.scan import scan_sources
from botistat.ingest.sources import Format, Source, format_for
from botistat.ingest.stats import IngestStats
from botistat.watch.monitor import COLUMNS, LiveMonitor

if TYPE_CHECKING:
    import polars as pl

#: How far ahead of this machine's clock a record may be dated and still count.
MAX_SKEW: Final = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


class Watcher:
    def __init__(
        self,
        arguments: list[str],
        config: Config,
        monitor: LiveMonitor,
        input_format: Format | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._follower = Follower(arguments)
        self._config = config
        self._monitor = monitor
        self._format = input_format
        self._clock = clock
        self._decoders: dict[Path, SourceDecoder] = {}
        self._stats = IngestStats()

    @property
    def files(self) -> list[Path]:
        return self._follower.paths

    @property
    def reads_stdin(self) -> bool:
        return self._follower.reads_stdin

    @property
    def finished(self) -> bool:
        """Standard input was the only input, and it ended."""
        return self._follower.finished

    def start(self, backfill_since: datetime | None) -> list[str]:
        """Position at the end of the files; first seed the monitor with their recent past.
        Returns warnings worth showing (paths waited for, future records in the history)."""
        offsets = self._follower.start()
        warnings = self._follower.take_warnings()
        if backfill_since is not None and offsets:
            warnings += self._backfill(offsets, backfill_since)
        return warnings

    def poll(self) -> list[str]:
        """Read what was appended and fold it in; returns warnings worth showing."""
        warnings = []
        for chunk in self._follower.poll():
            try:
                warnings += self._fold(chunk)
            except BotistatError as error:
                warnings.append(f"{error.message()}; skipping what was appended")
        followed = {*self._follower.paths, STDIN_PATH}
        for path in [p for p in self._decoders if p not in followed]:
            del self._decoders[path]  # rotated away or deleted: dated names would pile up
        return self._follower.take_warnings() + warnings

    def close(self) -> None:
        self._follower.close()

    def _backfill(self, offsets: dict[Path, int], since: datetime) -> list[str]:
        import polars as pl

        sources = [
            Source(str(path), path, self._format or format_for(path)[0], False, size, size)
            for path, size in offsets.items()
        ]
        # The scan reads the files one after the other: one open at a time, however many.
        scan = scan_sources(sources, self._config)
        history = (
            scan.frame.filter(pl.col("timestamp") >= since)
            .select(COLUMNS)
            .collect(engine="in-memory")
        )
        cap = self._clock() + MAX_SKEW
        future = history.get_column("timestamp") > cap
        count = int(future.sum())
        self._monitor.add(history.filter(~future) if count else history)
        return [_future_warning(count, self._first_future(sources, cap))] if count else []

    def _first_future(self, sources: list[Source], cap: datetime) -> str:
        """Where the history's first future record is. The scan's records do not carry their
        line, so the files are read again, up to it: rare, and only then."""
        for source in sources:
            fmt = format_of(source, peek_head(source) or b"")
            decoder = SourceDecoder(source, fmt, self._config, IngestStats(), list(COLUMNS))
            quote = b'"' if fmt in ("csv", "tsv") else None
            for block, _ in source_blocks(source, quote=quote):
                where = _first_after(decoder.transform(block), cap, source.name)
                if where is not None:
                    return where
        return "a line no longer there"

    def _fold(self, chunk: Chunk) -> list[str]:
        decoder = self._decoder(chunk)
        name = str(chunk.path)
        self._stats.skipped_by_file.pop(name, None)
        decoded = decoder.transform(Block(chunk.data, chunk.first_line))
        frame = decoder.accept(decoded)
        last = chunk.first_line + chunk.data.count(b"\n") - 1
        warnings: list[str] = []
        cap = self._clock() + MAX_SKEW
        future = frame.get_column("timestamp") > cap
        count = int(future.sum())
        if count:
            frame = frame.filter(~future)
            where = _first_after(decoded, cap, name) or f"{name}:{chunk.first_line}-{last}"
            warnings.append(_future_warning(count, where))
        self._monitor.add(frame.select(COLUMNS))
        newly = self._stats.skipped_by_file.pop(name, 0)
        if newly:
            warnings.insert(
                0, f"skipped {newly} malformed line(s) in {name}:{chunk.first_line}-{last}"
            )
        return warnings

    def _decoder(self, chunk: Chunk) -> SourceDecoder:
        decoder = self._decoders.get(chunk.path)
        if decoder is not None and not chunk.fresh:
            return decoder
        fmt = self._format or format_for(chunk.path)[0] or sniff_format(chunk.data)
        source = Source(str(chunk.path), chunk.path, fmt, False, None)
        decoder = SourceDecoder(source, fmt, self._config, self._stats, list(COLUMNS))
        if fmt in ("csv", "tsv") and not chunk.fresh:
            # Followed from the end: the header is the file's first line.
            try:
                with chunk.path.open("rb") as handle:
                    header = handle.readline()
            except OSError as error:
                raise InputError(
                    f"cannot read the header: {error.strerror}", source.name
                ) from error
            decoder.decode(Block(header, 1))
        self._decoders[chunk.path] = decoder
        return decoder


def _first_after(decoded: Decoded, cap: datetime, name: str) -> str | None:
    """``file:line (timestamp)`` of the block's first record dated after ``cap``."""
    stamps: pl.Series = decoded.frame.get_column("timestamp")
    rows = (stamps > cap).arg_true()
    if rows.is_empty():
        return None
    row = int(rows[0])
    stamp = stamps[row].isoformat().replace("+00:00", "Z")
    return f"{name}:{decoded.parsed.row_lines()[row]} ({stamp})"


def _future_warning(count: int, where: str) -> str:
    minutes = int(MAX_SKEW.total_seconds()) // 60
    return (
        f"skipped {count} record(s) dated in the future (more than {minutes} min ahead of this"
        f" machine's clock), the first at {where}"
    )
