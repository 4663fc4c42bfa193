"""Which cache entry an input file is: the same file unchanged, or a file whose text starts
with the text an entry covers (the file grown, renamed, copied or compressed).

An entry's segments are checked (present, whole) only when it is the one chosen, and each
segment once a run: a cache of many old files costs a run nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from botistat.engine.cache.store import SEGMENTS, Entry
from botistat.engine.cache.text import (
    FINGERPRINT_BYTES,
    Fingerprint,
    compressed_identity,
    digest,
    read_at,
)


@dataclass
class EntryIndex:
    """The entries of the cache at ``root`` as this run loaded them; what the user should
    know (a damaged segment) goes to ``warnings``."""

    root: Path
    entries: list[Entry]
    warnings: list[str]
    _checked: dict[str, bool] = field(default_factory=dict)

    def candidates(self, key: str, path: Path, status: os.stat_result, head: bytes) -> list[Entry]:
        """The entries of plain text of this key whose first bytes are ``head``'s (the
        file's own first bytes, inflated for a gzip file), the likeliest first: the same
        path, the same file under another name, then any. Their segments are not checked
        yet: only the one chosen is read."""
        name = str(path.absolute())
        digests: dict[int, str] = {}

        def head_matches(known: Fingerprint) -> bool:
            length = min(known.offset, FINGERPRINT_BYTES)
            if length not in digests:
                digests[length] = digest(head[:length]) if len(head) >= length else ""
            return digests[length] == known.head

        def rank(entry: Entry) -> int:
            same_file = (entry.device, entry.inode) == (status.st_dev, status.st_ino)
            return 0 if entry.path == name else 1 if same_file else 2

        found = [
            entry
            for entry in self.entries
            if entry.key == key and entry.text is not None and head_matches(entry.text)
        ]
        return sorted(found, key=rank)

    def unchanged(self, key: str, path: Path, status: os.stat_result, gzip: bool) -> Entry | None:
        name = str(path.absolute())
        for entry in self.entries:
            if (
                entry.key == key
                and entry.path == name
                and entry.gzip == gzip
                and (entry.device, entry.inode) == (status.st_dev, status.st_ino)
                and (entry.size, entry.mtime_ns) == (status.st_size, status.st_mtime_ns)
                and self._same_content(entry, path, status)
                and self.usable(entry)
            ):
                return entry
        return None

    def _same_content(self, entry: Entry, path: Path, status: os.stat_result) -> bool:
        if entry.gzip:
            return entry.compressed == compressed_identity(path, status.st_size)
        return (
            entry.text is not None
            and entry.text.offset == status.st_size
            and entry.text.starts(path, status.st_size)
        )

    def starting(self, key: str, path: Path, status: os.stat_result) -> Entry | None:
        """The entry of a plain file whose text this plain file starts with."""
        head = read_at(path, 0, FINGERPRINT_BYTES)
        for entry in self.candidates(key, path, status, head):
            assert entry.text is not None  # a candidate is an entry of plain text
            if entry.text.starts(path, status.st_size) and self.usable(entry):
                return entry
        return None

    def usable(self, entry: Entry) -> bool:
        """Whether every segment of ``entry`` is there, whole (a damaged one is told once,
        and the input read again)."""
        for segment in entry.segments:
            if segment.file not in self._checked:
                self._checked[segment.file] = segment.intact(self.root / SEGMENTS)
                if not self._checked[segment.file]:
                    self.warnings.append(
                        f"cache {self.root}: segment {segment.file} is damaged or missing: "
                        f"{entry.path} is read again"
                    )
            if not self._checked[segment.file]:
                return False
        return True
