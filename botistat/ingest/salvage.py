"""Read an input up to where it breaks: the blocks before a read error, and for a gzip file
cut short or damaged, whatever still inflates after them.

The fast reader hands over whole blocks and raises when the stream breaks, losing the part
of the block it was filling. A gzip file is then inflated again from its start with zlib,
which gives back every byte it can before the break; the bytes the blocks already held are
passed over, the rest is cut into blocks as usual; the line the break cuts in two is left
out (what is left of it may look like a record: a CSV row cut after a digit). Only a broken
input pays for this.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from botistat.core.errors import InputError
from botistat.ingest.blocks import UTF8_BOM, Block, read_blocks, source_blocks
from botistat.ingest.sources import Source

CHUNK: Final = 1 << 20


class ReadableBlocks:
    """The blocks of an input (each with the raw bytes consumed so far, see
    :func:`~botistat.ingest.blocks.source_blocks`), as far as it can be read; ``error`` is
    then the read error that ended it early, if any."""

    def __init__(
        self, source: Source, *, quote: bytes | None, block_size: int, salvage: bool = True
    ) -> None:
        self._source = source
        self._salvage = salvage
        self._quote = quote
        self._block_size = block_size
        self._blocks = source_blocks(source, quote=quote, block_size=block_size)
        self.error: InputError | None = None

    def __iter__(self) -> Iterator[tuple[Block, int]]:
        taken = 0  # bytes of (decompressed) text handed over in blocks
        last: Block | None = None
        try:
            for block, consumed in self._blocks:
                taken += len(block.data)
                last = block
                yield block, consumed
        except InputError as error:
            self.error = error
        else:
            return
        finally:
            # Stopped early or not, the input is closed (and a read-ahead thread ended).
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()
        path = self._source.path
        if path is None or not self._source.gzip or not self._salvage:
            return
        # The line after the last block: streamed blocks count their lines as they go.
        line = last.first_line + last.data.count(b"\n") if last is not None else 1
        rest = _Chunks(inflated_from(path, taken))
        for block in read_blocks(
            rest, name=self._source.name, quote=self._quote, block_size=self._block_size
        ):
            yield Block(block.data, block.first_line + line - 1), self._source.size or 0


def inflated_from(path: Path, skip: int) -> Iterator[bytes]:
    """The inflated bytes of the gzip file at ``path`` (every member in turn, a leading BOM
    left out) from offset ``skip`` on, up to where the file ends, is cut short or damaged;
    a line the break cuts in two is left out with the rest."""
    skip_bom = True
    carry = b""  # the part of a line after the last newline handed over
    broken = False
    member_ended = False
    with path.open("rb") as raw:
        inflater = zlib.decompressobj(wbits=31)
        while not broken and (chunk := raw.read(CHUNK)):
            while chunk:
                try:
                    data = inflater.decompress(chunk)
                except zlib.error:
                    broken = True
                    break
                member_ended = inflater.eof
                if skip_bom and data:
                    skip_bom = False
                    data = data.removeprefix(UTF8_BOM)
                if skip >= len(data):
                    skip -= len(data)
                    data = b""
                else:
                    data, skip = data[skip:], 0
                end = data.rfind(b"\n") + 1
                if end:
                    yield carry + data[:end]
                    carry = data[end:]
                else:
                    carry += data
                chunk = b""
                if inflater.eof:  # the next member starts in what is left
                    chunk = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
    if member_ended and not broken:
        yield carry  # it ended where a member ends: the last line is whole


class _Chunks:
    """A readable stream over an iterator of byte strings."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, size: int = -1, /) -> bytes:
        parts = [self._pending]
        held = len(self._pending)
        while size < 0 or held < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            held += len(chunk)
        data = b"".join(parts)
        if size < 0:
            size = len(data)
        data, self._pending = data[:size], data[size:]
        return data
