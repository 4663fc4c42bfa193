"""Read an input as large byte blocks that end on record boundaries.

Blocks are what the parsers hand to Polars: big enough that Polars' native readers run at full
speed, small enough that memory stays flat. A block never splits a record: JSON Lines blocks end
at a newline, CSV blocks at a newline outside quotes (a quoted field may hold newlines).
"""

from __future__ import annotations

import mmap
import os
import queue
import sys
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol, TypeVar, cast

from isal import igzip, isal_zlib

from botistat.core.errors import InputError
from botistat.ingest.remote import open_url
from botistat.ingest.sources import Source

#: About 50k JSON Lines records of a typical chat log, or 150k CSV ones. On the 10M-record
#: benchmark 16 MB beat 8 and 32 MB for JSON Lines, and 6 and 12 MB for CSV (5% faster than
#: 6 MB, for about 160 MB more in flight): each block has costs of its own, whatever its size.
DEFAULT_BLOCK_SIZE: Final = 16 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"
UTF8_BOM: Final = b"\xef\xbb\xbf"
#: What reading a broken input raises: an OS error, a gzip stream cut short or corrupt (ISA-L's
#: gzip reader is a drop-in for the standard library's, and inflates three times as fast).
# (The stub of isal_zlib.error calls it an instance; it is the class.)
UNREADABLE: Final = (OSError, EOFError, cast("type[Exception]", isal_zlib.error))
#: Blocks of a compressed or piped input read ahead while the earlier ones are parsed.
READ_AHEAD: Final = 2
T = TypeVar("T")
#: How much of an input :func:`peek_head` looks at to tell its format.
HEAD_BYTES: Final = 64 << 10
#: A CSV record longer than this is cut anyway: an unbalanced quote must not make the reader
#: buffer the rest of the file.
MAX_RECORD_BYTES: Final = 64 << 20


class ByteReader(Protocol):
    """A binary stream: a file, a gzip stream or stdin."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Block:
    """Whole records from one input, and the 1-based line number of ``data[0]``: a number, or
    a :class:`LineIndex` entry counted only when a bad line needs it."""

    data: bytes
    line: int | Callable[[], int]

    @property
    def first_line(self) -> int:
        return self.line if isinstance(self.line, int) else self.line()


class LineIndex:
    """Line numbers of byte offsets in a file, counted from the file on first demand.

    Counting the newlines of every block costs as much as a tenth of parsing it, and line
    numbers are needed only to report bad lines. The count goes on from the nearest offset
    already counted, so a file full of bad lines is still counted about once.
    """

    def __init__(self, path: Path, first_offset: int) -> None:
        self._path = path
        self._known: dict[int, int] = {first_offset: 1}
        self._lock = threading.Lock()

    def at(self, offset: int) -> Callable[[], int]:
        return lambda: self.line_of(offset)

    def line_of(self, offset: int) -> int:
        with self._lock:
            if offset in self._known:
                return self._known[offset]
            start = max(known for known in self._known if known <= offset)
            with self._path.open("rb") as handle:
                line = self._known[start] + count_newlines(handle, start, offset)
            self._known[offset] = line
            return line


def count_newlines(handle: BinaryIO, start: int, end: int) -> int:
    """How many newlines bytes ``start`` to ``end`` of an open file hold."""
    handle.seek(start)
    count = 0
    remaining = end - start
    while remaining > 0:
        chunk = handle.read(min(remaining, DEFAULT_BLOCK_SIZE))
        if not chunk:
            break
        count += chunk.count(b"\n")
        remaining -= len(chunk)
    return count


@contextmanager
def open_source(
    source: Source, fetch: int | None = None
) -> Iterator[tuple[ByteReader, Callable[[], int]]]:
    """Open a source for binary reading, decompressing gzip (told by its first bytes when
    ``source.gzip`` is None).

    Yields the stream and a function giving how many raw (compressed) bytes have been consumed,
    which is what progress is measured in. ``fetch``: bytes a remote input is fetched in
    (for a peek at its head; None: its file system's default).
    """
    if source.url is not None:
        with open_url(source.url, fetch) as remote:
            if _is_gzip(source, remote):
                with _gunzip(remote) as unzipped:
                    yield unzipped, remote.tell
            else:
                yield remote, remote.tell
        return
    if source.path is None:
        stdin = sys.stdin.buffer
        yield (_gunzip(stdin) if _is_gzip(source, stdin) else stdin), lambda: 0
        return
    try:
        raw = source.path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", source.name) from exc
    with raw:
        if _is_gzip(source, raw):
            with _gunzip(raw) as unzipped:
                yield unzipped, raw.tell
        else:
            yield raw, raw.tell


def _is_gzip(source: Source, stream: BinaryIO) -> bool:
    if source.gzip is not None:
        return source.gzip
    peek = getattr(stream, "peek", None)
    return bool(peek and peek(2)[:2] == GZIP_MAGIC)


def _gunzip(compressed: BinaryIO) -> igzip.IGzipFile:
    return igzip.IGzipFile(fileobj=compressed, mode="rb")  # type: ignore[no-untyped-call]


def peek_head(source: Source) -> bytes | None:
    """The first bytes of an input, decompressed, without consuming them (so that its format
    is known before it is cut into blocks: CSV blocks must not cut a quoted field); None if
    the input cannot be peeked at (a standard input that is not a buffered stream)."""
    if source.path is not None or source.url is not None:
        with open_source(source, fetch=HEAD_BYTES) as (stream, _):
            try:
                head = stream.read(HEAD_BYTES)
            except UNREADABLE:
                return b""  # reading it for real reports the error
        return head.removeprefix(UTF8_BOM)
    peek = getattr(sys.stdin.buffer, "peek", None)
    if peek is None:
        return None
    head = peek(HEAD_BYTES)
    if source.gzip or (source.gzip is None and head[:2] == GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, HEAD_BYTES)
        except zlib.error:
            return b""
    return head.removeprefix(UTF8_BOM)


def read_blocks(
    stream: ByteReader,
    *,
    name: str,
    quote: bytes | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[Block]:
    """Yield blocks of whole lines; with ``quote`` set, never cut inside a quoted field."""
    pending = b""
    line = 1
    first = True
    while True:
        try:
            chunk = stream.read(block_size)
        except UNREADABLE as exc:
            raise InputError(f"cannot read input: {exc}", name) from exc
        if first:
            first = False
            if chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM) :]
        if not chunk:
            break
        pending += chunk
        cut = _cut_point(pending, quote, force=len(pending) > MAX_RECORD_BYTES)
        if cut == 0:
            continue
        block, pending = pending[:cut], pending[cut:]
        yield Block(block, line)
        line += block.count(b"\n")
    if pending:
        yield Block(pending if pending.endswith(b"\n") else pending + b"\n", line)


def _cut_point(buffer: bytes, quote: bytes | None, *, force: bool) -> int:
    """Index just past the last newline that ends a complete record, or 0 if there is none."""
    end = buffer.rfind(b"\n")
    # Finding a byte is a memchr; counting them all takes thirty times as long.
    if end < 0 or quote is None or quote not in buffer:
        return end + 1
    # An even number of quote characters before a newline means it lies outside any quoted
    # field (RFC 4180 escapes a quote by doubling it, which keeps the parity).
    quotes_before = buffer.count(quote, 0, end)
    while quotes_before % 2:
        previous = buffer.rfind(b"\n", 0, end)
        if previous < 0:
            return buffer.rfind(b"\n") + 1 if force else 0
        quotes_before -= buffer.count(quote, previous, end)
        end = previous
    return end + 1


def source_blocks(
    source: Source, *, quote: bytes | None, block_size: int = DEFAULT_BLOCK_SIZE
) -> Iterator[tuple[Block, int]]:
    """The blocks of an input, each with how many raw bytes have been consumed so far.

    Plain files are memory-mapped to find where each block ends, and the block is then read
    with ``pread``: one copy out of the page cache, made without holding Python's lock
    (slicing the map holds it for the whole copy: a second of lock time at 10M records,
    while the parsers wait for it). Gzip files and stdin are read as streams.
    """
    if source.path is not None and not source.gzip:
        yield from _mapped_blocks(source, quote, block_size)
        return
    # Decompressing takes as long as parsing: a thread of its own keeps it off the thread
    # that hands blocks to the parsers (zlib releases the GIL while it inflates).
    yield from _read_ahead(_streamed_blocks(source, quote, block_size))


def _streamed_blocks(
    source: Source, quote: bytes | None, block_size: int
) -> Generator[tuple[Block, int], None, None]:
    with open_source(source) as (stream, position):
        for block in read_blocks(stream, name=source.name, quote=quote, block_size=block_size):
            yield block, position()


def _read_ahead(items: Generator[T, None, None], depth: int = READ_AHEAD) -> Iterator[T]:
    """The items of ``items``, produced by a thread that keeps up to ``depth`` ready."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    gone = threading.Event()  # the consumer stopped early

    def offer(entry: tuple[bool, Any]) -> bool:
        while not gone.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        outcome: tuple[bool, Any] = (False, None)
        try:
            for item in items:
                if not offer((True, item)):
                    items.close()  # closes the input
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            outcome = (False, exc)
        offer(outcome)

    producer = threading.Thread(target=produce, name="botistat-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            more, value = ready.get()
            if more:
                yield value
            elif value is None:
                return
            else:
                raise value
    finally:
        gone.set()
        producer.join()


def _mapped_blocks(
    source: Source, quote: bytes | None, block_size: int
) -> Iterator[tuple[Block, int]]:
    assert source.path is not None
    try:
        with source.path.open("rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if source.limit is not None:
                size = min(size, source.limit)
            if size == 0:
                return
            with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                yield from _split_mapped(
                    mapped, (source.offset, size), quote, block_size, source.path, raw.fileno()
                )
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", source.name) from exc


def _split_mapped(
    mapped: mmap.mmap,
    span: tuple[int, int],
    quote: bytes | None,
    block_size: int,
    path: Path,
    fd: int,
) -> Iterator[tuple[Block, int]]:
    """The blocks of bytes ``span`` (from a line's start to the end of a line or the file)."""
    offset, size = span
    mapped.madvise(mmap.MADV_SEQUENTIAL)
    first = len(UTF8_BOM) if mapped[: len(UTF8_BOM)] == UTF8_BOM else 0
    # Line numbers count from the file's start, whichever range of it is read.
    lines = LineIndex(path, first)
    start = max(first, offset)
    window = block_size
    while start < size:
        end = min(start + window, size)
        # Find the last newline before copying, so the block is copied once.
        last = end - 1 if end == size else mapped.rfind(b"\n", start, end)
        if last < 0:
            window *= 2  # a record longer than the window: look further
            continue
        data = os.pread(fd, last + 1 - start, start)
        if not data:  # the file was cut short while being read: nothing more to read
            return
        if end < size and quote is not None:  # a newline inside quotes does not end a record
            cut = _cut_point(data, quote, force=len(data) > MAX_RECORD_BYTES)
            if cut == 0:
                window *= 2
                continue
            data = data[:cut] if cut < len(data) else data
        window = block_size
        block = Block(data if data.endswith(b"\n") else data + b"\n", lines.at(start))
        start += len(data)
        yield block, start - offset
