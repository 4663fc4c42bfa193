"""What parsing a piece of an input revealed (records, skipped lines, implausible values),
kept beside its records so that a report from the cache tells the same as a plain run; and
the :class:`IngestStats` of a whole run put back together from the pieces, input by input."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botistat.ingest.stats import MAX_EXAMPLES, IngestStats, SkippedFile, SkippedLine

Lines = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class PieceStats:
    """One piece's part of :class:`IngestStats` (line numbers those of the whole input)."""

    #: Valid records (messages and ignored ones); None if no block was read.
    records: int | None = None
    shape: str | None = None
    ignored: int = 0
    skipped: int = 0
    examples: Lines = ()
    invalid_values: tuple[tuple[str, int], ...] = ()
    invalid_examples: Lines = ()
    #: Why the input could not be read to its end (such a piece is never kept).
    skipped_files: tuple[str, ...] = ()

    @classmethod
    def of(cls, stats: IngestStats, name: str, line_shift: int) -> PieceStats:
        def shifted(lines: list[SkippedLine]) -> Lines:
            return tuple((item.line + line_shift, item.reason) for item in lines)

        return cls(
            records=stats.records_by_file.get(name),
            shape=stats.shape_by_file.get(name),
            ignored=stats.ignored_by_file.get(name, 0),
            skipped=stats.skipped_by_file.get(name, 0),
            examples=shifted(stats.examples_by_file.get(name, [])),
            invalid_values=tuple(sorted(stats.invalid_values.items())),
            invalid_examples=shifted(stats.invalid_examples),
            skipped_files=tuple(item.reason for item in stats.skipped_files),
        )

    @property
    def tells_lines(self) -> bool:
        """Whether any line is named (the line numbers then need to be right)."""
        return bool(self.examples or self.invalid_examples)

    def shifted(self, by: int) -> PieceStats:
        """The same, its line numbers ``by`` lines further into the input."""

        def moved(lines: Lines) -> Lines:
            return tuple((line + by, reason) for line, reason in lines)

        return replace(
            self, examples=moved(self.examples), invalid_examples=moved(self.invalid_examples)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "shape": self.shape,
            "ignored": self.ignored,
            "skipped": self.skipped,
            "examples": [list(item) for item in self.examples],
            "invalid_values": [list(item) for item in self.invalid_values],
            "invalid_examples": [list(item) for item in self.invalid_examples],
        }

    @classmethod
    def from_json(cls, data: Any) -> PieceStats:
        """Raises ValueError (or KeyError, TypeError) for anything but what :meth:`to_json`
        wrote: a damaged manifest is never half-used."""
        records, shape = data["records"], data["shape"]
        if records is not None and not _count(records):
            raise ValueError("records")
        if shape is not None and not isinstance(shape, str):
            raise ValueError("shape")
        ignored, skipped = data["ignored"], data["skipped"]
        if not (_count(ignored) and _count(skipped)):
            raise ValueError("counts")
        return cls(
            records=records,
            shape=shape,
            ignored=ignored,
            skipped=skipped,
            examples=_lines(data["examples"]),
            invalid_values=tuple(
                (_text(problem), _checked_count(count)) for problem, count in data["invalid_values"]
            ),
            invalid_examples=_lines(data["invalid_examples"]),
        )


def merged_stats(inputs: list[tuple[str, list[PieceStats]]]) -> IngestStats:
    """The stats a plain run over these inputs (in this order, each made of these pieces in
    order) would have gathered."""
    stats = IngestStats()
    for name, pieces in inputs:
        stats.files.append(name)
        for piece in pieces:
            if piece.records is not None:
                stats.add_records(name, piece.shape or "message", piece.records)
            stats.add_ignored(name, piece.ignored)
            stats.add_skipped_count(name, piece.skipped)
            examples = stats.examples_by_file.setdefault(name, [])
            for line, reason in piece.examples[: max(0, MAX_EXAMPLES - len(examples))]:
                examples.append(SkippedLine(name, line, reason))
            if not examples:
                del stats.examples_by_file[name]
            stats.add_invalid(piece.invalid_values)
            stats.add_invalid_examples(
                [SkippedLine(name, line, reason) for line, reason in piece.invalid_examples]
            )
            stats.skipped_files += [SkippedFile(name, reason) for reason in piece.skipped_files]
    return stats


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _checked_count(value: Any) -> int:
    if not _count(value):
        raise ValueError("count")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("text")
    return value


def _lines(items: Any) -> Lines:
    return tuple((_checked_count(line), _text(reason)) for line, reason in items)


def merged_pieces(pieces: list[PieceStats]) -> PieceStats:
    """The stats of consecutive pieces of one input taken as one piece (an input's examples
    are its first few: the ones kept are enough)."""
    counted = [piece.records for piece in pieces if piece.records is not None]
    problems: dict[str, int] = {}
    for piece in pieces:
        for problem, count in piece.invalid_values:
            problems[problem] = problems.get(problem, 0) + count
    return PieceStats(
        records=sum(counted) if counted else None,
        shape=next((piece.shape for piece in pieces if piece.shape is not None), None),
        ignored=sum(piece.ignored for piece in pieces),
        skipped=sum(piece.skipped for piece in pieces),
        examples=tuple(line for piece in pieces for line in piece.examples)[:MAX_EXAMPLES],
        invalid_values=tuple(sorted(problems.items())),
        invalid_examples=tuple(line for piece in pieces for line in piece.invalid_examples)[
            :MAX_EXAMPLES
        ],
    )
