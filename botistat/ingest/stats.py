"""What reading the inputs revealed: files, skipped lines and where they were, ignored
records, implausible values, files that could not be read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from botistat.ingest.parsed import BadLine

#: How many skipped lines are reported by file:line; the rest are only counted.
MAX_EXAMPLES: Final = 5


@dataclass(frozen=True)
class SkippedLine:
    """One skipped input line, for the report's examples."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class SkippedFile:
    """An input that could not be read (whole, or from some point on), and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class IngestSummary:
    """An immutable copy of :class:`IngestStats` taken after the scan finished."""

    files: tuple[str, ...]
    skipped_by_file: tuple[tuple[str, int], ...]
    examples: tuple[SkippedLine, ...]
    #: Valid records read per shape ("message", "exchange"), before any time range.
    shapes: tuple[tuple[str, int], ...] = ()
    #: Records whose role is neither user nor bot, whatever the time range.
    ignored: int = 0
    #: Implausible values dropped from their records, per "<field>: <problem>".
    invalid_values: tuple[tuple[str, int], ...] = ()
    invalid_examples: tuple[SkippedLine, ...] = ()
    skipped_files: tuple[SkippedFile, ...] = ()

    @property
    def skipped(self) -> int:
        return sum(count for _, count in self.skipped_by_file)


@dataclass
class IngestStats:
    """Filled in while Polars pulls blocks through the scan; read after the collect."""

    files: list[str] = field(default_factory=list)
    skipped_by_file: dict[str, int] = field(default_factory=dict)
    #: The first few skipped lines of each file.
    examples_by_file: dict[str, list[SkippedLine]] = field(default_factory=dict)
    #: Valid records (messages and ignored ones) per file, and each file's shape.
    records_by_file: dict[str, int] = field(default_factory=dict)
    shape_by_file: dict[str, str] = field(default_factory=dict)
    ignored_by_file: dict[str, int] = field(default_factory=dict)
    invalid_values: dict[str, int] = field(default_factory=dict)
    invalid_examples: list[SkippedLine] = field(default_factory=list)
    skipped_files: list[SkippedFile] = field(default_factory=list)

    def add_invalid(self, counts: Iterable[tuple[str, int]]) -> None:
        for problem, count in counts:
            self.invalid_values[problem] = self.invalid_values.get(problem, 0) + count

    def wants_invalid_examples(self) -> bool:
        return len(self.invalid_examples) < MAX_EXAMPLES

    def add_invalid_examples(self, found: list[SkippedLine]) -> None:
        self.invalid_examples += found[: max(0, MAX_EXAMPLES - len(self.invalid_examples))]

    def add_ignored(self, file: str, records: int) -> None:
        if records:
            self.ignored_by_file[file] = self.ignored_by_file.get(file, 0) + records

    def add_records(self, file: str, shape: str, records: int) -> None:
        self.shape_by_file[file] = shape
        self.records_by_file[file] = self.records_by_file.get(file, 0) + records

    def wants_examples(self, file: str) -> bool:
        return len(self.examples_by_file.get(file, ())) < MAX_EXAMPLES

    def add_skipped(self, file: str, bad: list[BadLine]) -> None:
        if not bad:
            return
        self.skipped_by_file[file] = self.skipped_by_file.get(file, 0) + len(bad)
        examples = self.examples_by_file.setdefault(file, [])
        for item in bad[: max(0, MAX_EXAMPLES - len(examples))]:
            examples.append(SkippedLine(file, item.line, item.reason))

    def add_skipped_count(self, file: str, count: int) -> None:
        if count:
            self.skipped_by_file[file] = self.skipped_by_file.get(file, 0) + count

    def skip_file(self, file: str, reason: str, *, forget: bool) -> None:
        """Count ``file`` as skipped; with ``forget``, as if none of it had been read (it
        is not a log of this kind: its lines are not malformed lines of one)."""
        self.skipped_files.append(SkippedFile(file, reason))
        if forget:
            for counts in (self.skipped_by_file, self.records_by_file, self.ignored_by_file):
                counts.pop(file, None)
            self.examples_by_file.pop(file, None)

    def add(self, other: IngestStats) -> None:
        """Add what reading further inputs revealed (a distributed engine's pieces, in input
        order): as if this had read them too."""
        for name in other.files:
            if not self.files or self.files[-1] != name:  # byte ranges of one file
                self.files.append(name)
        for file, count in other.skipped_by_file.items():
            self.add_skipped_count(file, count)
        for file, found in other.examples_by_file.items():
            examples = self.examples_by_file.setdefault(file, [])
            examples += found[: max(0, MAX_EXAMPLES - len(examples))]
        for file, records in other.records_by_file.items():
            self.add_records(file, other.shape_by_file[file], records)
        for file, records in other.ignored_by_file.items():
            self.add_ignored(file, records)
        self.add_invalid(other.invalid_values.items())
        self.add_invalid_examples(other.invalid_examples)
        self.skipped_files += other.skipped_files

    def read_any(self) -> bool:
        """Whether any input gave a valid record (a message or an ignored one)."""
        return any(self.records_by_file.values())

    def summary(self) -> IngestSummary:
        shapes: dict[str, int] = {}
        for file, records in self.records_by_file.items():
            shape = self.shape_by_file[file]
            shapes[shape] = shapes.get(shape, 0) + records
        examples = [item for name in self.files for item in self.examples_by_file.get(name, ())]
        return IngestSummary(
            files=tuple(self.files),
            skipped_by_file=tuple(
                (name, self.skipped_by_file[name])
                for name in self.files
                if self.skipped_by_file.get(name)
            ),
            examples=tuple(examples[:MAX_EXAMPLES]),
            shapes=tuple(sorted(shapes.items())),
            ignored=sum(self.ignored_by_file.values()),
            invalid_values=tuple(sorted(self.invalid_values.items())),
            invalid_examples=tuple(self.invalid_examples),
            skipped_files=tuple(self.skipped_files),
        )
