"""Follow log files like ``tail -F``: appended lines, rotation, new files.

Polling, so it works the same on every platform and filesystem. Each poll:

- finds the files the arguments name now (files, directories searched recursively for log
  files, glob patterns); a file that appears after the start is read from its beginning;
- reads what was appended to each file since the last poll, handing on only complete lines
  (a partial last line waits for its newline);
- notices rotation: when a path points to a new file (rename + create), the rest of the old
  file is read through the handle still open on it, then the new file from its start; when a
  file shrinks (copy-truncate), it is read again from its start.

Nothing is read twice and nothing is skipped, as long as a rotated-away file is not deleted
and refilled within one poll interval (the limit of any polling tail). Compressed files are not
followed.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from botistat.ingest.blocks import count_newlines
from botistat.ingest.sources import GLOB_CHARS, format_for

#: At most this much is read from one file per poll, so a huge backlog streams in pieces.
MAX_READ: Final = 32 << 20
MAX_RETIRED: Final = 1000


@dataclass(frozen=True)
class Chunk:
    """Complete new lines of one file; ``first_line`` numbers ``data``'s first line."""

    path: Path
    data: bytes
    first_line: int
    #: True for the first chunk of a file (or of its replacement after rotation).
    fresh: bool


@dataclass
class _File:
    path: Path
    handle: BinaryIO
    identity: tuple[int, int]
    offset: int
    line: int = 1
    partial: bytes = b""
    fresh: bool = True


@dataclass
class Follower:
    """Follows the files named by ``arguments``; call :meth:`start`, then :meth:`poll`."""

    arguments: list[str]
    _files: dict[Path, _File] = field(default_factory=dict)
    #: Files rotated away and read to their end, by (device, inode): if one turns up again
    #: under a new name that is watched too (``app.jsonl`` -> ``app-1.jsonl``), it goes on
    #: from where it was left rather than being read again.
    _retired: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)

    def start(self) -> dict[Path, int]:
        """Open the files that exist now, positioned after their last complete line.

        Returns those positions: what is before them is history (for a backfill), what comes
        after (including the rest of a line still being written) is followed.
        """
        sizes = {}
        for path in self._discover():
            followed = self._open(path, at_end=True)
            if followed is not None:
                self._files[path] = followed
                sizes[path] = followed.offset
        return sizes

    @property
    def paths(self) -> list[Path]:
        return list(self._files)

    def poll(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        for path in list(self._files):
            chunks += self._follow(path)
        for path in self._discover():
            if path not in self._files:
                followed = self._open(path, at_end=False)
                if followed is not None:
                    self._files[path] = followed
                    chunks += self._read(followed)
        return chunks

    def close(self) -> None:
        for followed in self._files.values():
            followed.handle.close()
        self._files.clear()

    def _follow(self, path: Path) -> list[Chunk]:
        followed = self._files[path]
        try:
            status = path.stat()
        except OSError:
            status = None
        if status is None or (status.st_dev, status.st_ino) != followed.identity:
            # Rotated by rename: finish the old file through the open handle.
            chunks = self._read(followed, drain=True)
            followed.handle.close()
            del self._files[path]
            self._retired[followed.identity] = (followed.offset, followed.line)
            if len(self._retired) > MAX_RETIRED:
                del self._retired[next(iter(self._retired))]
            if status is not None:
                replacement = self._open(path, at_end=False)
                if replacement is not None:
                    self._files[path] = replacement
                    chunks += self._read(replacement)
            return chunks
        if status.st_size < followed.offset:
            # Copy-truncate: the file was emptied in place; read it again from the start.
            followed.offset = 0
            followed.line = 1
            followed.partial = b""
            followed.fresh = True
        return self._read(followed)

    def _read(self, followed: _File, drain: bool = False) -> list[Chunk]:
        chunks = []
        while True:
            followed.handle.seek(followed.offset)
            data = followed.handle.read(MAX_READ)
            if not data:
                break
            followed.offset += len(data)
            buffer = followed.partial + data
            cut = buffer.rfind(b"\n") + 1
            followed.partial = buffer[cut:]
            if cut:
                complete = buffer[:cut]
                chunks.append(Chunk(followed.path, complete, followed.line, followed.fresh))
                followed.fresh = False
                followed.line += complete.count(b"\n")
            if len(data) < MAX_READ:
                break
        if drain and followed.partial:
            # The old file will not grow again: its last line is complete as it is.
            chunks.append(
                Chunk(followed.path, followed.partial + b"\n", followed.line, followed.fresh)
            )
            followed.partial = b""
        return chunks

    def _open(self, path: Path, *, at_end: bool) -> _File | None:
        try:
            handle = path.open("rb")
        except OSError:
            return None
        status = os.fstat(handle.fileno())
        followed = _File(path, handle, (status.st_dev, status.st_ino), 0)
        if followed.identity in self._retired:
            followed.offset, followed.line = self._retired.pop(followed.identity)
            followed.fresh = False
        elif at_end:
            followed.offset = _after_last_newline(handle, status.st_size)
            followed.line = count_newlines(handle, 0, followed.offset) + 1
        return followed

    def _discover(self) -> list[Path]:
        found: list[Path] = []
        for argument in self.arguments:
            path = Path(argument)
            if path.is_dir():
                found += _log_files(path)
            elif path.is_file():
                found.append(path)
            elif GLOB_CHARS & set(argument):
                for match in sorted(glob.glob(argument, recursive=True)):  # noqa: PTH207
                    candidate = Path(match)
                    found += _log_files(candidate) if candidate.is_dir() else [candidate]
        unique = dict.fromkeys(p for p in found if not p.name.endswith(".gz"))
        return list(unique)


def _log_files(directory: Path) -> list[Path]:
    files = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        fmt, compressed = format_for(path)
        if path.is_file() and fmt is not None and not compressed:
            files.append(path)
    return files


def _after_last_newline(handle: BinaryIO, size: int) -> int:
    """The offset just past the file's last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - (64 << 10))
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0
