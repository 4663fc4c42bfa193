"""Feed a :class:`LiveMonitor` from followed files, with the report's own ingestion.

Each poll hands the new complete lines of each file, as one block, to that file's
:class:`SourceDecoder`: Polars parses and types the whole batch, as for a report.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from botistat.core.config import Config
from botistat.core.errors import BotistatError
from botistat.ingest.blocks import Block
from botistat.ingest.decoder import SourceDecoder, sniff_format
from botistat.ingest.follow import Chunk, Follower
from botistat.ingest.scan import scan_sources
from botistat.ingest.sources import Format, Source, format_for
from botistat.ingest.stats import IngestStats
from botistat.watch.monitor import COLUMNS, LiveMonitor


class Watcher:
    def __init__(
        self,
        arguments: list[str],
        config: Config,
        monitor: LiveMonitor,
        input_format: Format | None = None,
    ) -> None:
        self._follower = Follower(arguments)
        self._config = config
        self._monitor = monitor
        self._format = input_format
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
        Returns warnings worth showing (paths waited for)."""
        offsets = self._follower.start()
        warnings = self._follower.take_warnings()
        if backfill_since is not None and offsets:
            self._backfill(offsets, backfill_since)
        return warnings

    def poll(self) -> list[str]:
        """Read what was appended and fold it in; returns warnings worth showing."""
        warnings = []
        for chunk in self._follower.poll():
            try:
                warnings += self._fold(chunk)
            except BotistatError as error:
                warnings.append(f"{error.message()}; skipping what was appended")
        return self._follower.take_warnings() + warnings

    def close(self) -> None:
        self._follower.close()

    def _backfill(self, offsets: dict[Path, int], since: datetime) -> None:
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
        self._monitor.add(history)

    def _fold(self, chunk: Chunk) -> list[str]:
        decoder = self._decoder(chunk)
        name = str(chunk.path)
        skipped = self._stats.skipped_by_file.get(name, 0)
        frame = decoder.decode(Block(chunk.data, chunk.first_line))
        self._monitor.add(frame.select(COLUMNS))
        newly = self._stats.skipped_by_file.get(name, 0) - skipped
        if not newly:
            return []
        last = chunk.first_line + chunk.data.count(b"\n") - 1
        return [f"skipped {newly} malformed line(s) in {name}:{chunk.first_line}-{last}"]

    def _decoder(self, chunk: Chunk) -> SourceDecoder:
        decoder = self._decoders.get(chunk.path)
        if decoder is not None and not chunk.fresh:
            return decoder
        fmt = self._format or format_for(chunk.path)[0] or sniff_format(chunk.data)
        source = Source(str(chunk.path), chunk.path, fmt, False, None)
        decoder = SourceDecoder(source, fmt, self._config, self._stats, list(COLUMNS))
        if fmt in ("csv", "tsv") and not chunk.fresh:
            # Followed from the end: the header is the file's first line.
            with chunk.path.open("rb") as handle:
                decoder.decode(Block(handle.readline(), 1))
        self._decoders[chunk.path] = decoder
        return decoder
