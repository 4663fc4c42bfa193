"""What reading the inputs revealed: files, skipped lines and where they were, ignored
records."""

from __future__ import annotations

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
        )
