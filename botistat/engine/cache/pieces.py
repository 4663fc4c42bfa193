"""Parse a piece of an input into a Parquet segment of canonical records.

A piece from the start of a plain file is read in place (``Source.limit`` stops it where the
complete lines end); any other piece (what was appended, the line still being written, the
rest of a rotated-in ``.gz``) is copied to a file of its own first, after the input's CSV
header, and its line numbers shifted back to the input's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from botistat.core.config import Config
from botistat.core.errors import InputError
from botistat.core.schema import canonical_schema
from botistat.engine.cache.stats import PieceStats
from botistat.ingest import Source, scan_sources
from botistat.ingest.sources import Format

if TYPE_CHECKING:
    import polars as pl

#: Every canonical column is kept: any ``--by`` and any query reads from the segments.
COLUMNS: Final = tuple(canonical_schema())
#: How far into an input its CSV header line is looked for.
MAX_HEADER: Final = 64 << 10
#: Rows per row group: logs are written in time order, so a time range (--since 24h over
#: a week of logs) skips the row groups outside it by their min/max statistics.
ROW_GROUP_ROWS: Final = 65_536


@dataclass(frozen=True)
class Parsed:
    stats: PieceStats
    #: Why the scan of the piece failed (a piece that gave no record and was skipped).
    error: InputError | None = None

    @property
    def whole(self) -> bool:
        """Read to its end: neither skipped nor cut short."""
        return self.error is None and not self.stats.skipped_files


def parse_source(
    source: Source,
    config: Config,
    into: Path,
    *,
    strict: bool,
    line_shift: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Parsed:
    """Parse ``source`` into the segment ``into`` (written under a temporary name, then
    renamed). With ``strict``, the first problem raises, as in a plain run."""
    scan = scan_sources([source], config, strict=strict, progress=progress)
    temporary = into.with_name(into.name + ".part")
    error = None
    try:
        scan.frame.select(COLUMNS).sink_parquet(
            temporary, compression="lz4", row_group_size=ROW_GROUP_ROWS
        )
    except InputError as exc:
        # A single input that gave no record: a plain run over several inputs skips it.
        if strict or not scan.stats.skipped_files:
            raise
        error = exc
        _empty().write_parquet(temporary, compression="lz4")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(into)
    return Parsed(PieceStats.of(scan.stats, source.name, line_shift), error)


def text_source(
    source: Source, fmt: Format, header: bytes, data: Iterable[bytes], at: Path
) -> Source:
    """A plain copy at ``at`` of a piece of ``source``'s text (``data``), after ``header``:
    read as ``source`` would be (same name, so the same ``sources:`` rule, and format)."""
    size = 0
    with at.open("wb") as handle:
        for part in (header, *data):
            handle.write(part)
            size += len(part)
    return Source(source.name, at, fmt, False, size)


def csv_header(first: bytes) -> bytes | None:
    """The header line of a CSV input from its first bytes (None if it does not end there)."""
    end = first.find(b"\n")
    return first[: end + 1] if end >= 0 else None


def _empty() -> pl.DataFrame:
    import polars as pl

    schema = canonical_schema()
    return pl.DataFrame(schema={name: schema[name] for name in COLUMNS})
