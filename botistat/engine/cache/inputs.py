"""Scan inputs through the cache: each input file's records come from its cached segments,
and only what is new in it is parsed (then kept for the next run).

For each input, in the order a plain run reads them:

- the same file, unchanged (device, inode, size, time, and its fingerprints): its segments;
- a plain file that starts with the text an entry covers (the same file grown, or another
  name for it: renamed, copied): the entry's segments, then the complete lines after them;
  a line still being written is parsed for this run only, and kept once it is complete;
- a ``.gz`` whose text starts with the text an entry covers (a rotated file, compressed):
  the entry's segments, then the rest of its text;
- anything else (new, truncated, rewritten, another parse key): parsed from its start.

Whatever goes wrong with a piece (a read error, an input that turns out unreadable) makes
the whole input be read again as in a plain run, and nothing of it kept; standard input is
never cached. The numbers are then a plain run's, because the report reads the same
canonical records, in the same order, and the same counts of what was skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from botistat.core.config import Config
from botistat.core.errors import InputError
from botistat.core.schema import canonical_schema
from botistat.engine.cache.matching import EntryIndex
from botistat.engine.cache.pieces import (
    COLUMNS,
    ROW_GROUP_ROWS,
    Parsed,
    csv_header,
    parse_source,
    text_source,
)
from botistat.engine.cache.settled import RunSegment, SettledRun, SettledStore
from botistat.engine.cache.stats import PieceStats, merged_pieces, merged_stats
from botistat.engine.cache.store import (
    SEGMENTS,
    CacheUnusableError,
    Entry,
    Manifest,
    Segment,
    evict,
    locked,
    new_segment_path,
    read_manifest,
    sweep,
    write_manifest,
)
from botistat.engine.cache.text import (
    Fingerprint,
    LineCount,
    chunks,
    compressed_identity,
    inflate_rest,
    inflated_head,
    is_gzip,
    last_line_end,
    last_record_end,
)
from botistat.ingest import Scan, Source
from botistat.ingest.blocks import peek_head
from botistat.ingest.decoder import format_of
from botistat.ingest.scan import constant_columns, no_records_error
from botistat.ingest.sources import Format

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

#: Bytes a run may keep in the cache by default.
DEFAULT_MAX_BYTES = 4 << 30
#: Segments an entry holds at most: beyond, the ones after the first are merged into one
#: (a log appended to between hourly runs would otherwise gain a segment an hour).
MAX_SEGMENTS = 8
#: Inputs parsed at once.
CONCURRENT_INPUTS = 2
Progress = Callable[[int], None] | None


def parse_key(config: Config, strict: bool) -> str:
    """Everything that changes what parsing an input gives: the botistat version, the field
    mapping, record shape, roles, failed statuses, time zone (of naive timestamps), the
    ``sources:`` rules, and ``--strict``. A change to any makes the entries of other keys
    useless to this run (they stay until evicted, for runs that use them)."""
    from importlib.metadata import version

    described = {
        "version": version("botistat"),
        "fields": dict(config.fields),
        "roles": {role: list(words) for role, words in config.roles.items()},
        "failed": list(config.failed_statuses),
        "timezone": config.timezone,
        "record": config.record,
        "preset": config.preset,
        "sources": [
            [rule.glob, dict(rule.fields), rule.record, list(rule.failed)]
            for rule in config.sources
        ],
        "strict": strict,
    }
    text = json.dumps(described, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class _Parse(NamedTuple):
    """How this run parses an input."""

    config: Config
    key: str
    fmt: Format
    strict: bool
    progress: Progress


@dataclass(frozen=True)
class _Piece:
    path: Path
    stats: PieceStats


@dataclass
class _Input:
    """What one input contributes to a run: its pieces, and the entry to keep (if any)."""

    pieces: list[_Piece]
    entry: Entry | None = None
    error: InputError | None = None


@dataclass
class InputCache:
    """The cache directory ``root``, held (locked) while in a ``with`` block."""

    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    #: What the user should know (a damaged cache, a write that failed), for the caller.
    warnings: list[str] = field(default_factory=list)
    _loaded: list[Entry] = field(default_factory=list)
    _kept: list[Entry] = field(default_factory=list)
    _used: list[Entry] = field(default_factory=list)
    _transient: list[Path] = field(default_factory=list)
    #: The segments this run read, in order, and the ones merged for the next run.
    _run: list[RunSegment] = field(default_factory=list)
    _merges: list[tuple[list[str], str]] = field(default_factory=list)
    _settled: SettledStore | None = None
    _entries: EntryIndex = field(init=False)
    _lock: AbstractContextManager[None] | None = None

    def __enter__(self) -> InputCache:
        self._lock = locked(self.root)
        self._lock.__enter__()
        manifest, warning = read_manifest(self.root)
        if warning:
            self.warnings.append(f"cache {self.root}: {warning}")
        self._loaded = manifest.entries
        self._entries = EntryIndex(self.root, self._loaded, self.warnings)
        with suppress(OSError):  # another run's leftovers: swept next time
            sweep(self.root, manifest)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            for path in self._transient:
                path.unlink(missing_ok=True)
            self._save(finished=kind is None)
        except OSError as exc:
            self.warnings.append(f"cache {self.root}: cannot update it: {exc.strerror or exc}")
        finally:
            assert self._lock is not None
            self._lock.__exit__(kind, error, trace)

    def scan(
        self, sources: list[Source], config: Config, *, strict: bool, progress: Progress = None
    ) -> Scan:
        """The canonical records of ``sources``, as :func:`~botistat.ingest.scan_sources`
        gives them, from the cache and what is new. Raises :class:`CacheUnusableError` when a
        piece cannot be written (the caller then runs without the cache)."""
        import polars as pl

        key = parse_key(config, strict)
        inputs: list[tuple[str, list[PieceStats]]] = []
        paths: list[Path] = []
        failures: list[InputError] = []
        # Two inputs at a time: a file's last blocks drain from the parsing pipeline while
        # the next file's first ones fill it (a plain run's pipeline runs across files).
        # Results are taken in input order, so the first error raised is a plain run's.
        with ThreadPoolExecutor(max_workers=CONCURRENT_INPUTS) as pool:
            pending = [
                pool.submit(self._input, source, config, key, strict, progress)
                for source in sources
            ]
            try:
                found_all = [job.result() for job in pending]
            except (OSError, pl.exceptions.PolarsError) as exc:
                # A full disk, most likely (Polars tells a failed write in its own words).
                reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
                raise CacheUnusableError(f"cannot write to the cache: {reason}") from exc
            finally:
                for job in pending:
                    job.cancel()
        for source, found in zip(sources, found_all, strict=True):
            inputs.append((source.name, [piece.stats for piece in found.pieces]))
            paths += [piece.path for piece in found.pieces]
            if found.error is not None:
                failures.append(found.error)
            if found.entry is not None:
                self._kept.append(found.entry)
        stats = merged_stats(inputs)
        if failures and not stats.read_any():
            raise no_records_error(failures, len(sources))
        kept = {s.file for found in found_all if found.entry for s in found.entry.segments}
        kept |= {name for names, _ in self._merges for name in names}
        self._run = [RunSegment(path, path.name in kept) for path in paths]
        schema = canonical_schema()
        frame = pl.scan_parquet(paths) if paths else pl.LazyFrame(schema=schema)
        return Scan(frame.select(COLUMNS), stats, constant_columns(sources, config))

    # -- one input --------------------------------------------------------------------------
    def _input(
        self, source: Source, config: Config, key: str, strict: bool, progress: Progress
    ) -> _Input:
        path = source.path
        if path is None:  # standard input: read once, never kept
            return self._plain(source, config, strict, progress)
        try:
            status = path.stat()
            gzip = is_gzip(path, source.gzip)
            # Decided as a plain run decides it (by name or --input-format, else by content);
            # records parsed as another format are another parse.
            head = peek_head(source) or b""
            fmt = source.format or format_of(source, head)
        except (OSError, InputError):  # the plain reader tells why
            return self._plain(source, config, strict, progress)
        key = f"{key}:{fmt}"
        same = self._entries.unchanged(key, path, status, gzip)
        if same is not None:
            return _Input(self._pieces(same), self._renewed(same, path, status, same.segments))
        parse = _Parse(config, key, fmt, strict, progress)
        if gzip:
            return self._gzip(source, path, status, head, parse)
        return self._grown(source, path, status, head, parse)

    def _grown(
        self, source: Source, path: Path, status: os.stat_result, head: bytes, parse: _Parse
    ) -> _Input:
        """A plain file: from the entry whose text it starts with (if any), plus the
        complete lines after it, plus (for this run only) a line still being written."""
        config, key, fmt, strict, progress = parse
        size = status.st_size
        base = self._entries.starting(key, path, status)
        known = base.text if base is not None else None
        start = known.offset if known is not None else 0
        lines = LineCount(
            path, {} if known is None or known.lines is None else {start: known.lines}
        )
        tabular = fmt in ("csv", "tsv")
        cut = (
            last_record_end(path, start, size, b'"')
            if tabular
            else last_line_end(path, start, size)
        )
        header = b""
        if tabular and (start or cut < size):
            found = csv_header(head)
            if found is None:
                return self._plain(source, config, strict, progress)
            header = found
        new: list[tuple[_Piece, Parsed]] = []
        if cut > start:
            if start == 0:
                limited = Source(source.name, path, fmt, False, cut, limit=cut)
                new.append(self._parse(limited, config, strict, 0, progress, keep=True))
            else:
                piece = text_source(
                    source, fmt, header, chunks(path, start, cut), self._scratch_path()
                )
                before = partial(lines.before, start)
                new.append(self._parse_copy(piece, config, strict, before, header, keep=True))
        if size > cut:
            if cut == 0:
                new.append(self._parse(source, config, strict, 0, progress, keep=False))
            else:
                piece = text_source(
                    source, fmt, header, chunks(path, cut, size), self._scratch_path()
                )
                before = partial(lines.before, cut)
                new.append(self._parse_copy(piece, config, strict, before, header, keep=False))
        if not all(parsed.whole for _, parsed in new):
            self._forget([piece for piece, _ in new])
            return self._plain(source, config, strict, progress)
        pieces = (self._pieces(base) if base is not None else []) + [piece for piece, _ in new]
        kept = (base.segments if base is not None else []) + [
            Segment.of(piece.path, piece.stats) for piece, _ in new[: 1 if cut > start else 0]
        ]
        if not cut:
            return _Input(pieces, None)
        if len(kept) > MAX_SEGMENTS:
            kept = [kept[0], self._merged(kept[1:])]
        # Lines up to the cut: known, or cheap to count from a known start (an append).
        counted = lines.before(cut) if lines.known(start) is not None and start else None
        text = Fingerprint.of(path, cut, lines.known(cut) or counted)
        return _Input(pieces, self._renewed(None, path, status, kept, key=key, text=text))

    def _gzip(
        self, source: Source, path: Path, status: os.stat_result, head: bytes, parse: _Parse
    ) -> _Input:
        """A gzip file: the rest of a cached plain file's text (rotated and compressed), or
        read whole."""
        config, key, fmt, strict, progress = parse
        for base in self._entries.candidates(key, path, status, inflated_head(path)):
            known = base.text
            if known is None or not self._entries.usable(base):
                continue
            header = csv_header(head) if fmt in ("csv", "tsv") else b""
            if header is None:
                break
            rest = self._scratch_path()
            with rest.open("wb") as into:
                into.write(header)
                length = inflate_rest(path, known, into)
            if length is None:
                continue
            pieces = self._pieces(base)
            kept = list(base.segments)
            written, lines = length
            if written:
                copy = Source(source.name, rest, fmt, False, len(header) + written)
                before = partial(int, lines)
                new, parsed = self._parse_copy(copy, config, strict, before, header, True)
                if not parsed.whole:
                    self._forget([new])
                    break
                pieces.append(new)
                kept.append(Segment.of(new.path, new.stats))
            entry = self._renewed(None, path, status, kept, key=key, text=None)
            return _Input(pieces, entry)
        piece, parsed = self._parse(source, config, strict, 0, progress, keep=True)
        if not parsed.whole:  # read up to where it broke: used by this run only
            self._transient.append(piece.path)
            return _Input([piece], None, parsed.error)
        segment = Segment.of(piece.path, piece.stats)
        return _Input([piece], self._renewed(None, path, status, [segment], key=key, text=None))

    def _plain(self, source: Source, config: Config, strict: bool, progress: Progress) -> _Input:
        """The whole input, read as a plain run reads it, for this run only."""
        piece, parsed = self._parse(source, config, strict, 0, progress, keep=False)
        return _Input([piece], None, parsed.error)

    # -- parsing ----------------------------------------------------------------------------
    def _parse(
        self,
        source: Source,
        config: Config,
        strict: bool,
        line_shift: int,
        progress: Progress,
        *,
        keep: bool,
    ) -> tuple[_Piece, Parsed]:
        into = new_segment_path(self.root)
        if not keep:
            self._transient.append(into)
        parsed = parse_source(
            source, config, into, strict=strict, line_shift=line_shift, progress=progress
        )
        return _Piece(into, parsed.stats), parsed

    def _parse_copy(
        self,
        copy: Source,
        config: Config,
        strict: bool,
        lines_before: Callable[[], int],
        header: bytes,
        keep: bool,
    ) -> tuple[_Piece, Parsed]:
        """Parse a copied piece whose first line is line ``lines_before() + 1`` of the input
        (the copy's header line, if any, standing before it); the lines before it are
        counted only if the piece names a line."""
        try:
            # Under --strict a bad line of the copy would be told by the copy's line
            # number: the input is then read again whole, and the error told from there.
            header_lines = 1 if header else 0
            piece, parsed = self._parse(copy, config, False, -header_lines, None, keep=keep)
        finally:
            assert copy.path is not None
            copy.path.unlink(missing_ok=True)
        if strict and (parsed.stats.skipped or parsed.stats.invalid_values):
            return piece, Parsed(parsed.stats, InputError("not strictly valid", copy.name))
        if parsed.stats.tells_lines:
            stats = parsed.stats.shifted(lines_before())
            piece, parsed = _Piece(piece.path, stats), Parsed(stats, parsed.error)
        return piece, parsed

    def _merged(self, segments: list[Segment]) -> Segment:
        """One segment holding ``segments``' records in order (what a file grown over many
        runs would otherwise be scattered over), written for the next run."""
        import polars as pl

        into = new_segment_path(self.root)
        temporary = into.with_name(into.name + ".part")
        files = [self.root / SEGMENTS / segment.file for segment in segments]
        pl.scan_parquet(files).sink_parquet(
            temporary, compression="lz4", row_group_size=ROW_GROUP_ROWS
        )
        temporary.replace(into)
        self._merges.append(([segment.file for segment in segments], into.name))
        return Segment.of(into, merged_pieces([segment.stats for segment in segments]))

    def _scratch_path(self) -> Path:
        handle, name = tempfile.mkstemp(prefix="piece-", suffix=".part", dir=self.root / SEGMENTS)
        os.close(handle)
        self._transient.append(Path(name))
        return Path(name)

    def _forget(self, pieces: list[_Piece]) -> None:
        for piece in pieces:
            piece.path.unlink(missing_ok=True)

    def _pieces(self, entry: Entry) -> list[_Piece]:
        self._used.append(entry)
        return [_Piece(self.root / SEGMENTS / s.file, s.stats) for s in entry.segments]

    def _renewed(
        self,
        entry: Entry | None,
        path: Path,
        status: os.stat_result,
        segments: list[Segment],
        *,
        key: str | None = None,
        text: Fingerprint | None = None,
    ) -> Entry:
        """The entry to keep for ``path`` as it is now."""
        gzip = entry.gzip if entry is not None else text is None
        return Entry(
            key=entry.key if entry is not None else key or "",
            path=str(path.absolute()),
            gzip=gzip,
            device=status.st_dev,
            inode=status.st_ino,
            size=status.st_size,
            mtime_ns=status.st_mtime_ns,
            compressed=compressed_identity(path, status.st_size) if gzip else "",
            text=entry.text if entry is not None else text,
            segments=segments,
            used=time.time(),
        )

    def settled(
        self, key: str, since: datetime | None, until: datetime | None
    ) -> SettledRun | None:
        """The kept partial results for report options ``key`` over what the last
        :meth:`scan` read (None if it read nothing)."""
        if not self._run:
            return None
        self._settled = SettledStore(self.root, self.warnings)
        return self._settled.plan(key, self._run, since, until)

    def _save(self, finished: bool = True) -> None:
        """The manifest: this run's entries, and the others of other paths or keys; then
        the kept partial results, if the run finished."""
        if not self._kept and not self._used:
            return
        replaced = {(entry.key, entry.path) for entry in self._kept}
        manifest = Manifest(
            [e for e in self._loaded if (e.key, e.path) not in replaced] + self._kept
        )
        evict(manifest, self.max_bytes)
        write_manifest(self.root, manifest)
        sweep(self.root, manifest)
        if self._settled is not None and finished:
            files = manifest.segment_files()
            merges = [(names, merged) for names, merged in self._merges if merged in files]
            kept = files | {name for names, _ in merges for name in names}
            self._settled.save(kept, merges)


__all__ = ["DEFAULT_MAX_BYTES", "CacheUnusableError", "InputCache", "parse_key"]
