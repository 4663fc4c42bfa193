"""The text of a cached input, read by position, and fingerprints of it.

A plain file is read with ``pread``. A gzip file is never appended to: it is known by its
device, inode, size and time, and its compressed bytes; only a ``.gz`` rotated in from a
file that was cached plain is inflated, once, to check that it starts with the cached text
and to take what comes after it (:func:`inflate_rest`). Positions count the bytes of the
text, a leading byte-order mark included.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from isal import igzip

from botistat.ingest.blocks import GZIP_MAGIC

#: Bytes fingerprinted at each end of what was read: as many as ``watch`` fingerprints.
FINGERPRINT_BYTES: Final = 1024
CHUNK: Final = 4 << 20


def is_gzip(path: Path, told: bool | None) -> bool:
    """Whether ``path`` is gzip-compressed: as its name says, else by its first bytes."""
    if told is not None:
        return told
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """What a text was up to ``offset`` (just after a newline): digests of its first bytes and
    of its bytes just before the offset, and how many lines came before the offset (None
    until a line number after it was needed: counting costs a tenth of a parse)."""

    offset: int
    lines: int | None
    head: str
    tail: str

    @classmethod
    def of(cls, path: Path, offset: int, lines: int | None) -> Fingerprint:
        head = read_at(path, 0, min(offset, FINGERPRINT_BYTES))
        tail = read_at(path, max(0, offset - FINGERPRINT_BYTES), offset)
        return cls(offset, lines, digest(head), digest(tail))

    def starts(self, path: Path, size: int) -> bool:
        """Whether the plain file at ``path`` (``size`` bytes) begins with the text
        fingerprinted (it may go on after it)."""
        if size < self.offset:
            return False
        found = Fingerprint.of(path, self.offset, self.lines)
        return (found.head, found.tail) == (self.head, self.tail)


def read_at(path: Path, start: int, end: int) -> bytes:
    if end <= start:
        return b""
    with path.open("rb") as handle:
        return os.pread(handle.fileno(), end - start, start)


def chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while start < end:
            data = os.pread(handle.fileno(), min(CHUNK, end - start), start)
            if not data:
                return
            yield data
            start += len(data)


def last_line_end(path: Path, start: int, end: int) -> int:
    """The position just after the last newline between ``start`` and ``end`` (``start`` if
    there is none): where the complete lines end. A line still being written waits."""
    position = end
    while position > start:
        begin = max(start, position - CHUNK)
        found = read_at(path, begin, position).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        position = begin
    return start


def last_record_end(path: Path, start: int, end: int, quote: bytes) -> int:
    """:func:`last_line_end` for CSV: the last newline outside quotes (a quoted field may
    hold newlines; an even number of quote characters before a newline puts it outside)."""
    best = start
    quotes = 0  # before the chunk
    position = start
    for data in chunks(path, start, end):
        newline = data.rfind(b"\n")
        before = data.count(quote, 0, newline) if newline >= 0 else 0
        while newline >= 0:
            if (quotes + before) % 2 == 0:
                best = position + newline + 1
                break
            previous = data.rfind(b"\n", 0, newline)
            if previous >= 0:
                before -= data.count(quote, previous, newline)
            newline = previous
        quotes += data.count(quote)
        position += len(data)
    return best


def count_lines(path: Path, start: int, end: int) -> int:
    return sum(chunk.count(b"\n") for chunk in chunks(path, start, end))


class LineCount:
    """Newlines before positions of a plain file: those known, and the others counted (from
    the nearest known position) only when asked for."""

    def __init__(self, path: Path, known: dict[int, int]) -> None:
        self._path = path
        self._known = {0: 0} | known

    def known(self, offset: int) -> int | None:
        return self._known.get(offset)

    def before(self, offset: int) -> int:
        if offset not in self._known:
            start = max(position for position in self._known if position <= offset)
            self._known[offset] = self._known[start] + count_lines(self._path, start, offset)
        return self._known[offset]


def compressed_identity(path: Path, size: int) -> str:
    """A gzip file's fingerprint: digests of its first and last compressed bytes."""
    head = read_at(path, 0, min(size, FINGERPRINT_BYTES))
    tail = read_at(path, max(0, size - FINGERPRINT_BYTES), size)
    return digest(head) + digest(tail)


def inflated_head(path: Path) -> bytes:
    """The first inflated bytes of a gzip file (fewer if it is shorter or broken)."""
    try:
        with igzip.open(path, "rb") as handle:  # type: ignore[no-untyped-call]
            return bytes(handle.read(FINGERPRINT_BYTES))
    except (OSError, EOFError, ValueError):
        return b""


def inflate_rest(path: Path, known: Fingerprint, into: BinaryIO) -> tuple[int, int] | None:
    """Inflate the gzip file at ``path``; if its text starts with the text ``known``
    fingerprints, write what follows it to ``into`` and return how many bytes that is, and
    how many lines came before it; else (or if it cannot be inflated to its end) None."""
    position = 0
    head = b""
    window = b""  # the last bytes before the position, for the tail's digest
    written = 0
    lines = 0
    try:
        with igzip.open(path, "rb") as handle:  # type: ignore[no-untyped-call]
            while data := handle.read(CHUNK):
                if len(head) < FINGERPRINT_BYTES:
                    head += data[: FINGERPRINT_BYTES - len(head)]
                cut = min(len(data), max(0, known.offset - position))
                if cut:
                    window = (window + data[:cut])[-FINGERPRINT_BYTES:]
                    lines += data.count(b"\n", 0, cut)
                if cut < len(data):
                    into.write(data[cut:])
                    written += len(data) - cut
                position += len(data)
    except (OSError, EOFError, ValueError):
        return None
    if position < known.offset:
        return None
    head = head[: min(known.offset, FINGERPRINT_BYTES)]
    if digest(head) != known.head or digest(window) != known.tail:
        return None
    return written, lines
