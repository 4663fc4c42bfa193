"""Large plain JSON Lines files in byte ranges, for several workers to parse apart.

The ranges are runs of the very blocks the single-process reader cuts the file into (where
each block ends depends only on the bytes before it): read apart, they give the same blocks,
so the same records, and the same skipped lines in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO, Final

from botistat.ingest import Source
from botistat.ingest.blocks import UTF8_BOM

#: Plain JSON Lines files larger than this are parsed in byte ranges of at least about this
#: size, by several workers (each range is a few of the reader's 16 MiB blocks).
PIECE_BYTES: Final = 128 << 20
#: Ranges per worker thread to aim for: a few each, so that a slow one does not hold up the
#: rest, and not more: each range is a task, and each task one piece per partition.
PIECES_PER_THREAD: Final = 4
LINE_SEARCH_BYTES: Final = 64 << 10


def piece_bytes(total_bytes: int, threads: int) -> int:
    """The size of the byte ranges for inputs of ``total_bytes`` on ``threads`` worker
    threads: :data:`PIECE_BYTES`, or larger when that would make more than
    :data:`PIECES_PER_THREAD` ranges a thread (1 TB on 100 threads: 2.5 GB ranges, 400
    tasks rather than 7,450)."""
    return max(PIECE_BYTES, total_bytes // (PIECES_PER_THREAD * max(1, threads)))


def byte_ranges(source: Source, size_of_piece: int | None = None) -> list[Source]:
    """``source`` in byte ranges of about ``size_of_piece`` (default :data:`PIECE_BYTES`),
    when it is a plain JSON Lines file larger than that; else ``[source]``. Gzip files
    cannot be entered midway, nor CSV files cut without reading from their start (a quoted
    field may hold a newline): they stay whole, as do URLs.
    """
    piece = size_of_piece or PIECE_BYTES
    size = source.size or 0
    if (
        source.path is None
        or source.gzip is not False
        or source.format != "jsonl"
        or source.limit is not None
        or size <= piece
    ):
        return [source]
    block_size = reader_block_size()
    per_piece = max(1, piece // block_size)
    try:
        with source.path.open("rb") as handle:
            ends = list(_block_ends(handle, size, block_size))
    except OSError:
        return [source]  # reading it whole reports the error
    cuts = [0, *ends[per_piece - 1 : -1 : per_piece]]
    return [
        replace(source, offset=start, limit=stop, size=stop - start)
        for start, stop in zip(cuts, [*cuts[1:], size], strict=True)
    ]


def reader_block_size() -> int:
    """The size of the single-process reader's blocks (read when called: tests shrink it)."""
    from botistat.ingest import scan

    # The scan module's own name for it, the one its reader reads.
    return scan.DEFAULT_BLOCK_SIZE  # type: ignore[attr-defined]


def _block_ends(handle: BinaryIO, size: int, block_size: int) -> Iterator[int]:
    """Where the blocks of a plain JSON Lines file end, as the reader cuts them (see
    ``botistat.ingest.blocks._split_mapped``): at the last newline within a window of
    ``block_size`` bytes, the window doubled while it holds none."""
    start = len(UTF8_BOM) if handle.read(len(UTF8_BOM)) == UTF8_BOM else 0
    window = block_size
    while start < size:
        end = min(start + window, size)
        if end == size:
            yield size
            return
        last = _last_newline(handle, start, end)
        if last < 0:
            window *= 2
            continue
        window = block_size
        start = last + 1
        yield start


def _last_newline(handle: BinaryIO, start: int, end: int) -> int:
    """The offset of the last newline in bytes ``start`` to ``end``, or -1."""
    while end > start:
        begin = max(start, end - LINE_SEARCH_BYTES)
        handle.seek(begin)
        found = handle.read(end - begin).rfind(b"\n")
        if found >= 0:
            return begin + found
        end = begin
    return -1
