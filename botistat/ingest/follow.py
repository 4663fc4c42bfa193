"""Follow log files like ``tail -F``: appended lines, rotation, new files; and standard input.

Polling, so it works the same on every platform and filesystem. Each poll:

- finds the files the arguments name now (files, directories searched recursively for log
  files, glob patterns); a file that appears after the start is read from its beginning;
- reads what was appended to each file since the last poll, handing on only complete lines
  (a partial last line waits for its newline);
- notices rotation. A file is known by its device and inode *and* a fingerprint of its first
  bytes (:class:`Head`): a file system may hand a freed inode to the next file created (ext4
  does so at once), so a file deleted, or rotated away and deleted, can share its inode with
  the new file under its name. When a path names another file (rename + create), the rest of
  the old file is read first, through the handle still open on it or else found by its inode
  in its directory, then the new file from its start. When a file shrinks, or its first bytes
  change, in place (copy-truncate), the unread rest of the old content is read from the copy
  if one is found in the same directory, then the file again from its start.

At most :func:`handle_limit` files are held open, those read most recently; the others are
opened again by path when they grow, and checked to be the same file. What can still be lost
is told in the README's watch section. Compressed files are not followed.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Final

from botistat.core.errors import InputError
from botistat.ingest.blocks import count_newlines
from botistat.ingest.sources import GLOB_CHARS, STDIN, STDIN_NAME, format_for, matching_files

#: At most this much is read from one file per poll, so a huge backlog streams in pieces.
MAX_READ: Final = 32 << 20
MAX_RETIRED: Final = 1000
#: The first bytes of a file that, with its device and inode, tell it from another file.
HEAD_BYTES: Final = 1024
#: Files held open at most (fewer under a low open-file limit: see :func:`handle_limit`).
MAX_HANDLES: Final = 256
#: Pieces of standard input (up to 64 KiB each) read ahead of the polls: beyond that the
#: writer waits, rather than memory growing.
STREAM_BACKLOG: Final = 256
#: The name the lines of standard input go by (in warnings: ``<stdin>:12``).
STDIN_PATH: Final = Path(STDIN_NAME)

Identity = tuple[int, int]


@dataclass(frozen=True)
class Chunk:
    """Complete new lines of one file; ``first_line`` numbers ``data``'s first line."""

    path: Path
    data: bytes
    first_line: int
    #: True for the first chunk of a file (or of its replacement after rotation).
    fresh: bool


@dataclass(frozen=True)
class Head:
    """A fingerprint of a file's first bytes (up to :data:`HEAD_BYTES` of them)."""

    length: int
    digest: bytes

    @classmethod
    def of(cls, data: bytes) -> Head:
        return cls(len(data), hashlib.blake2b(data, digest_size=16).digest())

    def matches(self, head: bytes) -> bool:
        """Whether a file whose first bytes are now ``head`` starts as this one did. A log only
        grows: one now shorter than the bytes fingerprinted was emptied or replaced."""
        return len(head) >= self.length and Head.of(head[: self.length]) == self


def handle_limit() -> int:
    """Files held open at once: :data:`MAX_HANDLES`, or a quarter of the open-file limit
    (``ulimit -n``) if that is lower; the rest is left to the backfill's scan, Polars'
    threads, the hooks and Python itself."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to read
        return MAX_HANDLES
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_HANDLES
    return max(1, min(MAX_HANDLES, soft // 4))


@dataclass
class _File:
    path: Path
    identity: Identity
    head: Head
    offset: int = 0
    line: int = 1
    partial: bytes = b""
    fresh: bool = True
    #: None while not held open (see :func:`handle_limit`).
    handle: BinaryIO | None = None

    def restart(self, head: Head) -> None:
        self.head, self.offset, self.line, self.partial, self.fresh = head, 0, 1, b"", True


@dataclass
class Follower:
    """Follows the files named by ``arguments`` (and standard input for ``-``); call
    :meth:`start`, then :meth:`poll`."""

    arguments: list[str]
    max_open: int = field(default_factory=handle_limit)
    #: The file descriptor ``-`` reads.
    stdin: int = 0
    _files: dict[Path, _File] = field(default_factory=dict)
    #: The files held open, least recently read first.
    _held: OrderedDict[Path, _File] = field(default_factory=OrderedDict)
    #: Files rotated away and read to their end, by (device, inode): if one turns up again
    #: under a new name that is watched too (``app.jsonl`` -> ``app-1.jsonl``), it goes on
    #: from where it was left rather than being read again.
    _retired: dict[Identity, _File] = field(default_factory=dict)
    #: Files that could not be opened, and why (each reason is told once).
    _unreadable: dict[Path, str] = field(default_factory=dict)
    _warnings: list[str] = field(default_factory=list)
    _stream: _Stream | None = None

    def start(self) -> dict[Path, int]:
        """Open the files that exist now, positioned after their last complete line; start
        reading standard input if ``-`` is among the arguments.

        Returns those positions: what is before them is history (for a backfill), what comes
        after (including the rest of a line still being written) is followed. An argument that
        names no file yet is waited for, with a warning (see :meth:`take_warnings`).
        """
        self._check_arguments()
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

    @property
    def reads_stdin(self) -> bool:
        return self._stream is not None

    @property
    def finished(self) -> bool:
        """Standard input, the only input, has ended: nothing more will come."""
        return self._stream is not None and self._stream.ended and set(self.arguments) == {STDIN}

    @property
    def open_handles(self) -> int:
        return len(self._held)

    def take_warnings(self) -> list[str]:
        """What the user should know since the last call (paths waited for, unreadable files)."""
        warnings, self._warnings = self._warnings, []
        return warnings

    def poll(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        for followed in list(self._files.values()):
            chunks += self._follow(followed)
        for path in self._discover():
            if path not in self._files:
                new = self._open(path, at_end=False)
                if new is not None:
                    self._files[path] = new
                    chunks += self._read(new)
        if self._stream is not None:
            chunks += self._stream.take()
        return chunks

    def close(self) -> None:
        for followed in self._files.values():
            self._release(followed)
        self._files.clear()

    # -- one followed file ------------------------------------------------------------------
    def _follow(self, followed: _File) -> list[Chunk]:
        try:
            status = followed.path.stat()
        except OSError:
            status = None
        if status is None or (status.st_dev, status.st_ino) != followed.identity:
            return self._replaced(followed, exists=status is not None)
        if status.st_size == followed.offset:
            return []
        handle = self._handle(followed)
        if handle is None:
            return []
        head = _head(handle)
        if status.st_size < followed.offset or not followed.head.matches(head):
            # Emptied in place (copy-truncate), or deleted and created again on the same inode
            # since the last poll: read from the start, after the copy's rest of the old one.
            chunks = self._rest_from_copy(followed)
            followed.restart(Head.of(head))
            return chunks + self._read(followed)
        if len(head) > followed.head.length:
            followed.head = Head.of(head)
        return self._read(followed)

    def _replaced(self, followed: _File, *, exists: bool) -> list[Chunk]:
        """The path names another file now, or none: finish the old file, start the new one."""
        chunks = self._finish(followed)
        self._retire(followed)
        del self._files[followed.path]
        if exists:
            replacement = self._open(followed.path, at_end=False)
            if replacement is not None:
                self._files[followed.path] = replacement
                chunks += self._read(replacement)
        return chunks

    def _finish(self, followed: _File) -> list[Chunk]:
        """The rest of a file rotated away, through its handle; a file not held open is looked
        for by its inode in its directory (where a rename leaves it). Moved elsewhere or
        deleted, what it got since it was last read is out of reach."""
        if followed.handle is None:
            followed.handle = self._find_renamed(followed)
            if followed.handle is None:
                return []
        return self._read(followed, drain=True)

    def _rest_from_copy(self, followed: _File) -> list[Chunk]:
        """What the file got between the last poll and a copy-truncate, read from the copy."""
        found = self._find_copy(followed) if followed.offset else None
        if found is None:
            return []
        path, handle = found
        identity = _identity(os.fstat(handle.fileno()))
        copy = replace(followed, path=path, identity=identity, handle=handle)
        chunks = self._read(copy, drain=True)
        # Watched under its own name too, the copy goes on from its end rather than again.
        self._retire(copy)
        return chunks

    def _read(self, followed: _File, drain: bool = False) -> list[Chunk]:
        handle = followed.handle
        assert handle is not None
        chunks = []
        while True:
            handle.seek(followed.offset)
            data = handle.read(MAX_READ)
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
            followed.line += 1
            followed.partial = b""
        return chunks

    def _open(self, path: Path, *, at_end: bool) -> _File | None:
        handle = self._open_path(path)
        if handle is None:
            return None
        status = os.fstat(handle.fileno())
        head = _head(handle)
        followed = _File(path, _identity(status), Head.of(head))
        retired = self._retired.pop(followed.identity, None)
        if retired is not None and retired.head.matches(head):
            followed.offset, followed.line, followed.fresh = retired.offset, retired.line, False
        elif at_end or self._copies_a_followed_file(followed.head):
            followed.offset = _after_last_newline(handle, status.st_size)
            followed.line = count_newlines(handle, 0, followed.offset) + 1
            # Its first line (a CSV header) is not in what is handed on.
            followed.fresh = False
        self._hold(followed, handle)
        return followed

    def _copies_a_followed_file(self, head: Head) -> bool:
        """A new file that starts as a followed one, over a whole fingerprint, is a copy of it
        (a copy-truncate's, a backup): its lines come through the file it copies."""
        return head.length == HEAD_BYTES and any(f.head == head for f in self._files.values())

    # -- handles ----------------------------------------------------------------------------
    def _handle(self, followed: _File) -> BinaryIO | None:
        if followed.handle is not None:
            self._held.move_to_end(followed.path)
            return followed.handle
        handle = self._open_path(followed.path)
        if handle is None:
            return None
        if _identity(os.fstat(handle.fileno())) != followed.identity:
            handle.close()  # replaced since it was looked at: the next poll sees the rotation
            return None
        self._hold(followed, handle)
        return handle

    def _hold(self, followed: _File, handle: BinaryIO) -> None:
        followed.handle = handle
        previous = self._held.get(followed.path)
        if previous is not None and previous is not followed:
            self._release(previous)
        self._held[followed.path] = followed
        self._held.move_to_end(followed.path)
        while len(self._held) > self.max_open:
            _, idle = self._held.popitem(last=False)
            if idle.handle is not None:
                idle.handle.close()
                idle.handle = None

    def _release(self, followed: _File) -> None:
        if followed.handle is not None:
            followed.handle.close()
            followed.handle = None
        if self._held.get(followed.path) is followed:
            del self._held[followed.path]

    def _retire(self, followed: _File) -> None:
        self._release(followed)
        self._retired[followed.identity] = followed
        if len(self._retired) > MAX_RETIRED:
            del self._retired[next(iter(self._retired))]

    def _open_path(self, path: Path) -> BinaryIO | None:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return None  # gone since it was found: the next poll knows
        except OSError as error:
            reason = error.strerror or str(error)
            if self._unreadable.get(path) != reason:
                self._unreadable[path] = reason
                self._warnings.append(f"cannot read {path}: {reason}; trying again")
            return None
        self._unreadable.pop(path, None)
        return handle

    def _find_renamed(self, followed: _File) -> BinaryIO | None:
        for entry in _entries(followed.path.parent):
            if entry.inode() == followed.identity[1]:
                handle = self._open_path(Path(entry.path))
                if handle is None:
                    continue
                same = _identity(os.fstat(handle.fileno())) == followed.identity
                if same and followed.head.matches(_head(handle)):
                    return handle
                handle.close()
        return None

    def _find_copy(self, followed: _File) -> tuple[Path, BinaryIO] | None:
        """The copy a copy-truncate left next to the file: one not followed as such, at least
        as long as what was read of the file, starting as it did; the newest if several."""
        candidates = []
        for entry in _entries(followed.path.parent):
            path = Path(entry.path)
            if path in self._files or not entry.is_file():
                continue
            try:
                status = entry.stat()
            except OSError:
                continue
            if status.st_size >= followed.offset:
                candidates.append((status.st_mtime, path))
        for _, path in sorted(candidates, reverse=True):
            handle = self._open_path(path)
            if handle is not None:
                if followed.head.matches(_head(handle)):
                    return path, handle
                handle.close()
        return None

    # -- arguments --------------------------------------------------------------------------
    def _check_arguments(self) -> None:
        if self.arguments.count(STDIN) > 1:
            raise InputError("stdin (-) given more than once", hint="give - once")
        for argument in self.arguments:
            path = Path(argument)
            if argument == STDIN:
                self._stream = _Stream(self.stdin)
            elif path.is_dir():
                if not matching_files(argument):
                    self._wait_for(f"directory holds no log files yet ({argument})", "them")
            elif path.is_file():
                if path.name.endswith(".gz"):
                    self._warnings.append(f"compressed files are not followed ({argument})")
            elif path.exists():
                raise InputError(
                    "not a regular file",
                    argument,
                    "watch follows files; pipe a stream into `botistat watch -`",
                )
            elif GLOB_CHARS & set(argument):
                if not matching_files(argument):
                    self._wait_for(f"no files match the pattern yet ({argument})", "them")
            else:
                self._wait_for(f"does not exist yet ({argument})", "it")

    def _wait_for(self, what: str, it: str) -> None:
        self._warnings.append(f"{what}; waiting for {it} to appear, as tail -F does")

    def _discover(self) -> list[Path]:
        found: list[Path] = []
        for argument in self.arguments:
            if argument != STDIN:
                found += matching_files(argument)
        # Each file once however it is named (a directory and a file in it, ./x and x), as
        # a report reads it; compressed files are not followed: they do not grow.
        unique: dict[Path, Path] = {}
        for path in found:
            if not format_for(path)[1]:
                unique.setdefault(path.resolve(), path)
        return list(unique.values())


class _Stream:
    """Standard input, read as it arrives by a thread of its own (a read waits for data)."""

    def __init__(self, descriptor: int) -> None:
        self._pieces: queue.Queue[bytes] = queue.Queue(maxsize=STREAM_BACKLOG)
        self._partial = b""
        self._line = 1
        self._fresh = True
        self.ended = False
        threading.Thread(
            target=self._pump, args=(descriptor,), name="botistat-stdin", daemon=True
        ).start()

    def _pump(self, descriptor: int) -> None:
        while True:
            try:
                piece = os.read(descriptor, 64 << 10)
            except OSError:
                piece = b""  # a closed or unreadable stdin ends as an empty one does
            self._pieces.put(piece)
            if not piece:
                return

    def take(self) -> list[Chunk]:
        """The complete lines that came since the last call; at the end, the last line even
        without its newline."""
        pieces = []
        size = 0
        while size < MAX_READ and not self.ended:
            try:
                piece = self._pieces.get_nowait()
            except queue.Empty:
                break
            self.ended = not piece
            pieces.append(piece)
            size += len(piece)
        buffer = self._partial + b"".join(pieces)
        if self.ended and buffer and not buffer.endswith(b"\n"):
            buffer += b"\n"
        cut = buffer.rfind(b"\n") + 1
        self._partial = buffer[cut:]
        if not cut:
            return []
        chunk = Chunk(STDIN_PATH, buffer[:cut], self._line, self._fresh)
        self._fresh = False
        self._line += chunk.data.count(b"\n")
        return [chunk]


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError:
        return []


def _identity(status: os.stat_result) -> Identity:
    return (status.st_dev, status.st_ino)


def _head(handle: BinaryIO) -> bytes:
    handle.seek(0)
    return handle.read(HEAD_BYTES)


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
