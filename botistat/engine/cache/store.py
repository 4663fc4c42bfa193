"""The cache directory: a manifest of entries (one per input file and parse key) and the
Parquet segments they name.

Layout: ``botistat-cache.json`` (the manifest), ``segments/*.parquet``, and
``botistat-cache.lock``, which a run holds (``flock``) from reading the manifest to writing it
back, so two runs at once take turns. Every file is written under a temporary name and
renamed into place, the manifest last: a run killed at any point leaves either the old
manifest or the new one, and segments no manifest names are swept by the next run. Nothing
else in the directory is touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from isal.isal_zlib import crc32

from botistat.engine.cache.stats import PieceStats
from botistat.engine.cache.text import Fingerprint

MANIFEST: Final = "botistat-cache.json"
LOCK: Final = "botistat-cache.lock"
SEGMENTS: Final = "segments"
#: Kept partial results (see ``botistat.engine.cache.settled``): their index and directory.
SETTLED_INDEX: Final = "botistat-settled.json"
SETTLED: Final = "settled"
#: Written in the manifest; any other value is a foreign or future cache, not read.
LAYOUT: Final = "botistat-cache/1"
TEMPORARY: Final = ".tmp"
CHECKSUM_CHUNK: Final = 8 << 20
#: Segments (``<uuid>.parquet``), segments being written (``.part``), pieces being copied.
OUR_NAMES: Final = re.compile(r"[0-9a-f]{32}\.parquet(\.part)?|piece-[a-z0-9_]+\.part")


class CacheUnusableError(Exception):
    """The cache directory cannot be used (not writable, disk full): the run goes on
    without it."""


@dataclass(frozen=True)
class Segment:
    """The canonical records of one piece of an input, and what parsing it revealed."""

    file: str
    bytes: int
    #: CRC-32 of the file: Parquet pages carry no checksum, and a flipped byte in a value
    #: would be read as another value.
    crc: int
    stats: PieceStats

    @classmethod
    def of(cls, path: Path, stats: PieceStats) -> Segment:
        size, crc = file_checksum(path)
        return cls(path.name, size, crc, stats)

    def intact(self, directory: Path) -> bool:
        """Whether the file is there, as written."""
        try:
            return file_checksum(directory / self.file) == (self.bytes, self.crc)
        except OSError:
            return False


@dataclass
class Entry:
    """What the cache holds for one input file read with one parse key."""

    key: str
    path: str
    gzip: bool
    device: int
    inode: int
    size: int
    mtime_ns: int
    #: A gzip file's compressed fingerprint (see ``compressed_identity``); "" for plain files.
    compressed: str
    #: For a plain file, the text its segments cover; None for a gzip file (read whole).
    text: Fingerprint | None
    segments: list[Segment]
    used: float = field(default_factory=time.time)

    @property
    def bytes(self) -> int:
        return sum(segment.bytes for segment in self.segments)

    def to_json(self) -> dict[str, Any]:
        text = self.text
        return {
            "key": self.key,
            "path": self.path,
            "gzip": self.gzip,
            "device": self.device,
            "inode": self.inode,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "compressed": self.compressed,
            "text": None
            if text is None
            else {"offset": text.offset, "lines": text.lines, "head": text.head, "tail": text.tail},
            "segments": [
                {"file": s.file, "bytes": s.bytes, "crc": s.crc, "stats": s.stats.to_json()}
                for s in self.segments
            ],
            "used": self.used,
        }

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        text = data["text"]
        segments = [
            Segment(
                _name(s["file"]),
                _int(s["bytes"]),
                _int(s["crc"]),
                PieceStats.from_json(s["stats"]),
            )
            for s in data["segments"]
        ]
        return cls(
            key=_str(data["key"]),
            path=_str(data["path"]),
            gzip=bool(data["gzip"]),
            device=_int(data["device"]),
            inode=_int(data["inode"]),
            size=_int(data["size"]),
            mtime_ns=_int(data["mtime_ns"]),
            compressed=_str(data["compressed"]),
            text=None
            if text is None
            else Fingerprint(
                _int(text["offset"]),
                None if text["lines"] is None else _int(text["lines"]),
                _str(text["head"]),
                _str(text["tail"]),
            ),
            segments=segments,
            used=float(data["used"]),
        )


@dataclass
class Manifest:
    entries: list[Entry] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries)

    def segment_files(self) -> set[str]:
        return {segment.file for entry in self.entries for segment in entry.segments}


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the cache's lock (waiting for another run to finish with it)."""
    try:
        (root / SEGMENTS).mkdir(parents=True, exist_ok=True)
        handle = (root / LOCK).open("a")
    except OSError as exc:
        raise CacheUnusableError(f"cannot use the cache directory: {exc.strerror}") from exc
    with handle:
        try:
            import fcntl
        except ImportError:  # Windows: atomic renames alone, the last writer wins
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_manifest(root: Path) -> tuple[Manifest, str | None]:
    """The manifest, and a warning if there was one that cannot be used (it is then
    treated as empty, and replaced by this run's)."""
    path = root / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest(), None
    except (OSError, UnicodeDecodeError) as exc:
        return Manifest(), f"cannot read the cache manifest ({exc}): the cache is rebuilt"
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("layout") != LAYOUT:
            return Manifest(), "the cache was not written by this botistat: it is rebuilt"
        return Manifest([Entry.from_json(item) for item in data["entries"]]), None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Manifest(), f"the cache manifest is damaged ({exc!r}): the cache is rebuilt"


def write_manifest(root: Path, manifest: Manifest) -> None:
    data = {"layout": LAYOUT, "entries": [entry.to_json() for entry in manifest.entries]}
    replace_atomically(root / MANIFEST, json.dumps(data, indent=1).encode())


def replace_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}{TEMPORARY}")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def ours(root: Path) -> list[Path]:
    """The files of the segments directory that botistat wrote (by their names: nothing
    else there is touched)."""
    try:
        found = list((root / SEGMENTS).iterdir())
    except OSError:
        return []
    return [path for path in found if OUR_NAMES.fullmatch(path.name)]


def new_segment_path(root: Path) -> Path:
    return root / SEGMENTS / f"{uuid.uuid4().hex}.parquet"


def sweep(root: Path, manifest: Manifest) -> None:
    """Remove the segments no entry names (left by a run killed before writing the
    manifest, or by evicted entries) and temporary files."""
    named = manifest.segment_files()
    for path in ours(root):
        if path.name not in named:
            path.unlink(missing_ok=True)
    for path in root.glob(f"{MANIFEST}.*{TEMPORARY}"):
        path.unlink(missing_ok=True)


def evict(manifest: Manifest, max_bytes: int) -> int:
    """Drop the least recently used entries until the segments fit in ``max_bytes``
    (a segment shared by entries counted once per entry); how many were dropped."""
    entries = sorted(manifest.entries, key=lambda entry: entry.used)
    total = manifest.bytes
    dropped = 0
    while entries and total > max_bytes:
        total -= entries.pop(0).bytes
        dropped += 1
    manifest.entries = [entry for entry in manifest.entries if entry in entries]
    return dropped


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    entries: int
    files: int
    bytes: int
    keys: int
    last_used: float | None
    warning: str | None
    #: Kept partial results (see ``botistat.engine.cache.settled``): pieces, the
    #: conversations they hold, and the report settings they were kept for.
    pieces: int = 0
    conversations: int = 0
    settings: int = 0


def cache_info(root: Path) -> CacheInfo:
    manifest, warning = read_manifest(root)
    kept = [p for p in (root / SETTLED).rglob("*") if p.is_file()]
    on_disk = sum(p.stat().st_size for p in ours(root) + kept)
    pieces = conversations = settings = 0
    with suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        kept = json.loads((root / SETTLED_INDEX).read_text(encoding="utf-8"))["keys"]
        settings = len(kept)
        for state in kept.values():
            pieces += len(state["pieces"])
            conversations += sum(int(piece["conversations"]) for piece in state["pieces"])
    return CacheInfo(
        pieces=pieces,
        conversations=conversations,
        settings=settings,
        root=root,
        entries=len(manifest.entries),
        files=len({entry.path for entry in manifest.entries}),
        bytes=on_disk,
        keys=len({entry.key for entry in manifest.entries}),
        last_used=max((entry.used for entry in manifest.entries), default=None),
        warning=warning,
    )


def clear_cache(root: Path) -> int:
    """Remove what botistat wrote in ``root`` (under the lock); the bytes freed."""
    freed = 0
    with locked(root):
        for path in ours(root):
            freed += path.stat().st_size
            path.unlink(missing_ok=True)
        (root / MANIFEST).unlink(missing_ok=True)
        for path in root.glob(f"{MANIFEST}.*{TEMPORARY}"):
            path.unlink(missing_ok=True)
        for path in (root / SETTLED).rglob("*"):
            if path.is_file():
                freed += path.stat().st_size
        shutil.rmtree(root / SETTLED, ignore_errors=True)
        (root / SETTLED_INDEX).unlink(missing_ok=True)
        for path in root.glob(f"{SETTLED_INDEX}.*{TEMPORARY}"):
            path.unlink(missing_ok=True)
    with suppress(OSError):
        (root / SEGMENTS).rmdir()
    return freed


def file_checksum(path: Path) -> tuple[int, int]:
    """A file's size and CRC-32, read a piece at a time (a segment may be large)."""
    size = crc = 0
    with path.open("rb") as handle:
        while data := handle.read(CHECKSUM_CHUNK):
            size += len(data)
            crc = crc32(data, crc)
    return size, crc


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"not a whole number: {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r}")
    return value


def _name(value: Any) -> str:
    name = _str(value)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a segment name: {value!r}")
    return name
