"""Partial results of finished conversations, kept between runs: a run over grown logs then
computes only the conversations still going on, and those new records touched.

The metric core merges exactly the partial results of any pieces of the records that have no
conversation in common (the report's partitions are such pieces). So a run through the cache
takes a conversation as *finished* when its last record is :data:`QUIET` older than the
newest record read, and all its records come from segments the cache keeps. The partial
results of the finished conversations are kept in *pieces*, each a stretch of them in the
order of their first record (one per partition the engine computes them in), with their
hashes.
A later run with the same report options (:func:`options_key`):

- uses a piece when the segments it was computed from are all among this run's inputs, once
  each, and no other segment of the run holds a record of its conversations (the segments
  new since are checked: a conversation that went on after all sends its piece back to be
  computed from the records);
- leaves out the records of the pieces' conversations, and does not even read a segment all
  of whose records belong to them (``covered``);
- with a time range, uses the pieces whose records lie wholly inside it; a piece wholly
  outside contributes nothing; one across a bound is dropped and its conversations computed
  from their records (those wholly inside the range are kept again).

Every conversation is so counted once, from a piece computed from exactly the records it
has now, or from its records: the numbers are a plain run's. Whatever cannot be read or
written is a warning; the run goes on computing from the records.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from botistat.core.model import CountrySourceInfo
from botistat.core.pricing import PriceBook
from botistat.engine.cache.store import (
    SETTLED,
    SETTLED_INDEX,
    TEMPORARY,
    file_checksum,
    replace_atomically,
)
from botistat.engine.partition import CONVERSATION_KEY, conversation_hash
from botistat.report.options import ReportOptions

if TYPE_CHECKING:
    import polars as pl

INDEX: Final = SETTLED_INDEX
DIRECTORY: Final = SETTLED
LAYOUT: Final = "botistat-settled/2"
#: A conversation whose last record is this much older than the newest record read is taken
#: as finished. Taken too soon, it only costs its piece being computed again.
QUIET: Final = timedelta(hours=1)
#: Report options (keys) whose pieces are kept; beyond, the least recently used go.
MAX_KEYS: Final = 4
#: Pieces of one key; beyond, the smallest are dropped (computed again next run, and kept
#: as one piece).
MAX_PIECES: Final = 48
CONVERSATIONS: Final = "conversations"
REPLIES: Final = "replies"
SEGMENT_INDEX: Final = "\x00segment"
#: A piece's files: name -> (bytes, CRC-32).
Files = dict[str, tuple[int, int]]
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ID: Final = "conversation_id"
#: Conversations are known by the hash partitions are split by (64 bits: two conversations
#: with the same hash are simply kept, or computed, together).
KEY: Final = CONVERSATION_KEY


class RunSegment(NamedTuple):
    """A segment this run reads, in input order; ``kept``: the cache keeps it (else it is a
    piece parsed for this run only, such as a line still being written)."""

    path: Path
    kept: bool


@dataclass
class Piece:
    """The partial results of some finished conversations (``files``: name -> bytes, CRC)."""

    id: str
    made_from: set[str]
    clean: set[str]
    files: dict[str, tuple[int, int]]
    #: Earliest and latest record of its conversations, microseconds since the epoch.
    first: int
    last: int
    conversations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "made_from": sorted(self.made_from),
            "clean": sorted(self.clean),
            "files": {name: list(value) for name, value in self.files.items()},
            "first": self.first,
            "last": self.last,
            "conversations": self.conversations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Piece:
        files = {str(name): (int(v[0]), int(v[1])) for name, v in data["files"].items()}
        return cls(
            id=_hex(data["id"]),
            made_from={str(s) for s in data["made_from"]},
            clean={str(s) for s in data["clean"]},
            files=files,
            first=int(data["first"]),
            last=int(data["last"]),
            conversations=int(data["conversations"]),
        )


@dataclass
class KeyState:
    """The pieces of one report-options key, and the segments whose every record belongs to
    a conversation of one of them."""

    pieces: list[Piece] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    used: float = field(default_factory=time.time)


def options_key(
    options: ReportOptions,
    countries: CountrySourceInfo,
    prices: PriceBook,
    constants: dict[str, Any],
) -> str:
    """Everything the partial results depend on besides the records: the report options but
    the time range (pieces are used by their span) and the partition count, the country
    source, the prices, and the columns the config fixes."""
    from dataclasses import replace

    described = [
        repr(replace(options, since=None, until=None, partitions=0)),
        repr(countries),
        prices.source,
        repr(sorted(prices.overrides.items())),
        repr(sorted(constants.items())),
    ]
    text = "\n".join(described)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class SettledStore:
    """The kept pieces of a cache directory (read and written under its lock)."""

    def __init__(self, root: Path, warnings: list[str]) -> None:
        self.root = root
        self.warnings = warnings
        self._keys: dict[str, KeyState] = {}
        self._run: SettledRun | None = None
        self._load()

    def plan(
        self,
        key: str,
        run: list[RunSegment],
        since: datetime | None,
        until: datetime | None,
    ) -> SettledRun:
        """What this run uses, and what it computes from the records."""
        self._run = SettledRun(self, key, self._keys.get(key) or KeyState(), run, since, until)
        return self._run

    def save(self, kept: set[str], merges: list[tuple[list[str], str]]) -> None:
        """Record this run's pieces (``kept``: the segment files the cache keeps; ``merges``:
        segments merged into one for the next run), drop what no longer holds, and remove
        piece files nothing names."""
        run = self._run
        if run is not None:
            state = run.final_state(kept)
            for names, merged in merges:
                _apply_merge(state, names, merged)
            self._keys[run.key] = state
        if len(self._keys) > MAX_KEYS:
            newest = sorted(self._keys, key=lambda k: self._keys[k].used)[-MAX_KEYS:]
            self._keys = {k: v for k, v in self._keys.items() if k in newest}
        data = {
            "layout": LAYOUT,
            "keys": {
                key: {
                    "used": state.used,
                    "covered": sorted(state.covered),
                    "pieces": [piece.to_json() for piece in state.pieces],
                }
                for key, state in self._keys.items()
            },
        }
        replace_atomically(self.root / INDEX, json.dumps(data).encode())
        self._sweep()

    def piece_path(self, piece_id: str) -> Path:
        return self.root / DIRECTORY / piece_id

    def _load(self) -> None:
        path = self.root / INDEX
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.warnings.append(f"cache {self.root}: cannot read {INDEX} ({exc}): rebuilt")
            return
        try:
            if data.get("layout") != LAYOUT:
                raise ValueError(f"layout {data.get('layout')!r}")
            for key, value in data["keys"].items():
                self._keys[str(key)] = KeyState(
                    [Piece.from_json(p) for p in value["pieces"]],
                    {str(s) for s in value["covered"]},
                    float(value["used"]),
                )
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            self.warnings.append(f"cache {self.root}: {INDEX} is damaged ({exc!r}): rebuilt")
            self._keys = {}

    def _sweep(self) -> None:
        for path in self.root.glob(f"{INDEX}.*{TEMPORARY}"):
            path.unlink(missing_ok=True)
        named = {piece.id for state in self._keys.values() for piece in state.pieces}
        try:
            found = list((self.root / DIRECTORY).iterdir())
        except OSError:
            return
        for path in found:
            if path.name.split(".")[0] not in named or path.name.endswith(".part"):
                shutil.rmtree(path, ignore_errors=True)


class SettledRun:
    """One run's use of the pieces: what :func:`~botistat.engine.local.report_from_scan`
    reads (``rows``, :meth:`kept`), which conversations it may keep (:meth:`finished`), and
    :meth:`keep`."""

    def __init__(
        self,
        store: SettledStore,
        key: str,
        state: KeyState,
        run: list[RunSegment],
        since: datetime | None,
        until: datetime | None,
    ) -> None:
        import polars as pl

        self._store, self.key, self._run = store, key, run
        self._since, self._until = _micros(since), _micros(until)
        names = [segment.path.name for segment in run]
        count = Counter(names)
        self._ids: dict[str, pl.Series] = {}
        for piece in state.pieces:
            ids = self._piece_ids(piece) if self._intact(piece, count) else None
            if ids is not None:
                self._ids[piece.id] = ids
        valid = [p for p in state.pieces if p.id in self._ids]
        #: Segments checked for records of the pieces' conversations (clean if they stand).
        self._checked: set[str] = set()
        valid = self._untouched(valid, names)
        inside = [p for p in valid if self._within(p)]
        outside = [p for p in valid if self._apart(p)]
        self.used = inside
        self._kept_before = inside + outside
        dropped = len(state.pieces) - len(self._kept_before)
        # Only when every piece stands does a covered segment hold no record to compute.
        skip = state.covered if not dropped else set()
        self._skip = skip
        self._skipped = [s.path.name for s in run if s.path.name in skip]
        self._newest = max((p.last for p in self._kept_before), default=None)
        excluded = self._conversations(self._kept_before)
        scans = [
            pl.scan_parquet(segment.path).with_columns(
                pl.lit(index, pl.UInt32).alias(SEGMENT_INDEX)
            )
            for index, segment in enumerate(run)
            if segment.path.name not in skip
        ]
        frame = pl.concat(scans, how="vertical") if scans else None
        if frame is not None and excluded is not None:
            known = conversation_hash().is_in(excluded.implode())
            frame = frame.filter(pl.col(ID).is_null() | ~known)
        self._with_segment = frame
        self._new: list[Piece] = []
        self._finished: pl.DataFrame | None = None
        self._uncovered: set[int] = set()
        self._failed = False
        self._writer: ThreadPoolExecutor | None = None
        #: Pieces being written: the job, its directory, the report's reply file, spans.
        self._pending: list[tuple[Future[Files], Path, Path, pl.DataFrame]] = []
        self._kept_conversations = 0
        self.stored = len(self.used)

    @property
    def rows(self) -> pl.LazyFrame | None:
        """The records left to compute (None: no segment to read)."""
        return None if self._with_segment is None else self._with_segment.drop(SEGMENT_INDEX)

    def kept(self) -> Iterator[dict[str, pl.DataFrame]]:
        """The partial results of the pieces used, one piece at a time."""
        import polars as pl

        for piece in self.used:
            directory = self._store.piece_path(piece.id)
            results: dict[str, Any] = {
                name: pl.read_parquet(directory / f"{name}.parquet")
                for name in piece.files
                if name not in (CONVERSATIONS, REPLIES)
            }
            # One row per reply: read from the piece where the report reads them.
            results[REPLIES] = pl.scan_parquet(directory / f"{REPLIES}.parquet")
            yield results

    def partitions(self, planned: int) -> int:
        """The partitions ``planned`` for all the inputs, scaled to the share of their
        segments this run reads (0: the records read fit in memory)."""
        total = read = 0
        for segment in self._run:
            size = _size(segment.path)
            total += size
            read += size if segment.path.name not in self._skip else 0
        share = planned * read / total if total else planned
        return 0 if share <= 1 else math.ceil(share)

    def finished(self) -> pl.DataFrame:
        """The conversations among :attr:`rows` whose partial results may be kept (finished,
        wholly inside the time range, every record in a kept segment): their hash, first
        and last record (microseconds), in the order of their first record."""
        import polars as pl

        empty = pl.DataFrame(schema={KEY: pl.UInt64(), "first": pl.Int64(), "last": pl.Int64()})
        if self._with_segment is None:
            self._finished = empty
            return empty
        # A conversation with a record in a segment read for this run only, or read twice
        # (a copy of a log), is not kept: its piece would not be what a later run reads.
        twice = Counter(segment.path.name for segment in self._run)
        transient = [
            i
            for i, segment in enumerate(self._run)
            if not segment.kept or twice[segment.path.name] > 1
        ]
        # One pass over the records: each conversation's span, and the first and last
        # segment it has records in (a conversation with a record in a segment read for
        # this run only is taken to have one when that segment lies between the two: the
        # conversation is then not kept, which is never wrong); the segments with records
        # of no conversation.
        micros = pl.col("timestamp").dt.epoch("us")
        segment = pl.col(SEGMENT_INDEX)
        extents, nameless = pl.collect_all(
            [
                self._with_segment.filter(pl.col(ID).is_not_null())
                .group_by(conversation_hash().alias(KEY))
                .agg(
                    micros.min().alias("first"),
                    micros.max().alias("last"),
                    segment.min().alias("from"),
                    segment.max().alias("to"),
                ),
                self._with_segment.filter(pl.col(ID).is_null()).select(segment.unique()),
            ]
        )
        between = [(pl.col("from") <= i) & (pl.col("to") >= i) for i in transient]
        extents = extents.with_columns(
            pl.any_horizontal(pl.lit(False), *between).alias("transient")
        )
        newest = extents["last"].max()
        candidates = [v for v in (newest, self._newest) if isinstance(v, int)]
        self._finished = empty
        if candidates:
            cutoff = max(candidates) - QUIET // timedelta(microseconds=1)
            done = (pl.col("last") < cutoff) & ~pl.col("transient")
            if self._since is not None:
                done &= pl.col("first") >= self._since
            if self._until is not None:
                done &= pl.col("last") < self._until
            self._finished = extents.filter(done).select(KEY, "first", "last").sort("first")
        # The segments a conversation not kept may have records in: read next time.
        ids = self._finished.get_column(KEY).implode()
        ranges = extents.filter(~pl.col(KEY).is_in(ids)).select("from", "to").unique()
        self._uncovered = set(nameless.get_column(SEGMENT_INDEX))
        for first, last in ranges.iter_rows():
            self._uncovered.update(range(first, last + 1))
        return self._finished

    def keep(
        self, results: dict[str, pl.DataFrame], conversations: pl.DataFrame, replies: Path
    ) -> None:
        """Keep the partial results of these finished conversations (a partition's) as a
        piece, written while the report goes on; their replies are the report's file
        ``replies``, linked (or copied) into the piece once :meth:`written`. A failed write
        is a warning, and the run keeps nothing more."""
        if self._failed or self._finished is None or conversations.height == 0:
            return
        # What finished() gave, cut by the engine: each conversation's first and last.
        spans = conversations.select(KEY, "first", "last")
        # Written in place: the index names a piece only once all of it is written, and
        # a directory the index does not name is swept.
        directory = self._store.piece_path(uuid.uuid4().hex)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1)
        rest = {name: frame for name, frame in results.items() if name != REPLIES}
        job = self._writer.submit(self._write, directory, rest, spans)
        self._pending.append((job, directory, replies, spans))

    def _write(
        self, directory: Path, results: dict[str, pl.DataFrame], spans: pl.DataFrame
    ) -> dict[str, tuple[int, int]]:
        directory.mkdir(parents=True)
        files = {}
        results[CONVERSATIONS] = spans.select(KEY)
        for name, frame in results.items():
            target = directory / f"{name}.parquet"
            frame.write_parquet(target, compression="lz4")
            files[name] = file_checksum(target)
        return files

    def written(self) -> None:
        """The report's reply files are written: each piece takes its own."""
        import polars as pl

        pending, self._pending = self._pending, []
        for job, directory, replies, spans in pending:
            try:
                files = job.result()
                target = directory / f"{REPLIES}.parquet"
                try:
                    os.link(replies, target)
                except OSError:  # another file system
                    shutil.copyfile(replies, target)
                files[REPLIES] = file_checksum(target)
            except (OSError, pl.exceptions.PolarsError) as exc:
                self._fail(exc)
                return
            self._kept_conversations += spans.height
            self._new.append(
                Piece(
                    directory.name,
                    {segment.path.name for segment in self._run if segment.kept},
                    set(),
                    files,
                    int(spans["first"].min()),  # type: ignore[arg-type]
                    int(spans["last"].max()),  # type: ignore[arg-type]
                    spans.height,
                )
            )

    def _fail(self, error: Exception) -> None:
        self._failed = True
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        self._store.warnings.append(
            f"cache {self._store.root}: cannot keep partial results: {reason}"
        )

    def wait(self) -> None:
        """Until the pieces being written are (those never :meth:`written` are dropped)."""
        for job, *_ in self._pending:
            with suppress(Exception):  # a run that failed: nothing of it is kept
                job.result()
        self._pending = []
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None

    def final_state(self, kept: set[str]) -> KeyState:
        """The pieces and covered segments to record after the run."""
        self.wait()
        pieces = []
        for piece in self._kept_before:
            piece.clean |= self._checked & kept
            pieces.append(piece)
        every = self._finished is not None and self._kept_conversations == self._finished.height
        if self._failed or not every:  # some finished conversations are in no piece
            pieces += self._new
            return KeyState([p for p in pieces if p.made_from <= kept], set())
        pieces += self._new
        covered = set(self._skipped)
        for index, segment in enumerate(self._run):
            name = segment.path.name
            if segment.kept and name not in covered and index not in self._uncovered:
                covered.add(name)
        standing = [p for p in pieces if p.made_from <= kept]
        if len(standing) < len(pieces):  # a covered segment may hold a dropped one's records
            covered = set()
        pieces = standing
        if len(pieces) > MAX_PIECES:
            pieces = sorted(pieces, key=lambda p: p.conversations)[-MAX_PIECES:]
            covered = set()
        return KeyState(pieces, covered & kept)

    # -- which pieces hold ------------------------------------------------------------------
    def _intact(self, piece: Piece, count: Counter[str]) -> bool:
        if any(count[name] != 1 for name in piece.made_from):
            return False
        directory = self._store.piece_path(piece.id)
        try:
            return all(
                file_checksum(directory / f"{name}.parquet") == tuple(value)
                for name, value in piece.files.items()
            )
        except OSError:
            return False

    def _untouched(self, pieces: list[Piece], names: list[str]) -> list[Piece]:
        """The pieces none of whose conversations has a record in a segment not known to
        be clean of them (each piece checked against its own unknown segments)."""
        import polars as pl

        paths = {segment.path.name: segment.path for segment in self._run}
        touched_by: dict[frozenset[str], pl.Series] = {}
        standing = []
        for piece in pieces:
            unknown = frozenset(n for n in names if n not in piece.made_from | piece.clean)
            self._checked |= unknown
            if not unknown:
                standing.append(piece)
                continue
            if unknown not in touched_by:
                scans = [
                    pl.scan_parquet(paths[n]).filter(pl.col(ID).is_not_null())
                    for n in sorted(unknown)
                ]
                found = pl.concat(scans).select(conversation_hash().unique()).collect()
                touched_by[unknown] = found.to_series()
            if not self._ids[piece.id].is_in(touched_by[unknown].implode()).any():
                standing.append(piece)
        return standing

    def _within(self, piece: Piece) -> bool:
        after = self._since is None or piece.first >= self._since
        return after and (self._until is None or piece.last < self._until)

    def _apart(self, piece: Piece) -> bool:
        before = self._since is not None and piece.last < self._since
        return before or (self._until is not None and piece.first >= self._until)

    def _piece_ids(self, piece: Piece) -> pl.Series | None:
        import polars as pl

        path = self._store.piece_path(piece.id) / f"{CONVERSATIONS}.parquet"
        try:
            return pl.read_parquet(path).get_column(KEY)
        except (OSError, pl.exceptions.PolarsError):
            return None

    def _conversations(self, pieces: list[Piece]) -> pl.Series | None:
        import polars as pl

        return pl.concat([self._ids[piece.id] for piece in pieces]) if pieces else None


def _apply_merge(state: KeyState, names: list[str], merged: str) -> None:
    """Segments ``names`` were merged into ``merged``: the pieces and covered segments that
    named them name it instead (a piece that knew only some of them is dropped)."""
    parts = set(names)
    standing = []
    for piece in state.pieces:
        known = piece.made_from | piece.clean
        if not parts <= known:
            if not parts & known:
                standing.append(piece)
            continue
        if parts & piece.made_from:
            piece.made_from = (piece.made_from - parts) | {merged}
            piece.clean -= parts
        else:
            piece.clean = (piece.clean - parts) | {merged}
        standing.append(piece)
    if len(standing) < len(state.pieces):  # as in final_state
        state.covered = set()
    state.pieces = standing
    if parts <= state.covered:
        state.covered = (state.covered - parts) | {merged}
    else:
        state.covered -= parts


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def _hex(value: Any) -> str:
    text = str(value)
    if not text.isalnum():
        raise ValueError(f"not a piece id: {text!r}")
    return text


__all__ = ["RunSegment", "SettledRun", "SettledStore", "options_key"]
