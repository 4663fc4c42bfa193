"""What reading the inputs revealed: files, skipped lines and where they were, ignored
records, implausible values."""

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

    @property
    def skipped(self) -> int:
        return sum(count for _, count in self.skipped_by_file)


@dataclass
class IngestStats:
    """Filled in while Polars pulls blocks through the scan; read after the collect."""

    files: list[str] = field(default_factory=list)
    skipped_by_file: dict[str, int] = field(default_factory=dict)
    examples: list[SkippedLine] = field(default_factory=list)
    shapes: dict[str, int] = field(default_factory=dict)
    ignored_by_file: dict[str, int] = field(default_factory=dict)
    invalid_values: dict[str, int] = field(default_factory=dict)
    invalid_examples: list[SkippedLine] = field(default_factory=list)

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

    def add_shape(self, shape: str, records: int) -> None:
        self.shapes[shape] = self.shapes.get(shape, 0) + records

    def wants_examples(self) -> bool:
        return len(self.examples) < MAX_EXAMPLES

    def add_skipped(self, file: str, bad: list[BadLine]) -> None:
        if not bad:
            return
        self.skipped_by_file[file] = self.skipped_by_file.get(file, 0) + len(bad)
        for item in bad[: max(0, MAX_EXAMPLES - len(self.examples))]:
            self.examples.append(SkippedLine(file, item.line, item.reason))

    def add_skipped_count(self, file: str, count: int) -> None:
        if count:
            self.skipped_by_file[file] = self.skipped_by_file.get(file, 0) + count

    def summary(self) -> IngestSummary:
        return IngestSummary(
            files=tuple(self.files),
            skipped_by_file=tuple(
                (name, self.skipped_by_file[name])
                for name in self.files
                if self.skipped_by_file.get(name)
            ),
            examples=tuple(self.examples),
            shapes=tuple(sorted(self.shapes.items())),
            ignored=sum(self.ignored_by_file.values()),
            invalid_values=tuple(sorted(self.invalid_values.items())),
            invalid_examples=tuple(self.invalid_examples),
        )
