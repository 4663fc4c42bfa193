"""What a parser returns for one block: the good rows, and the lines it had to skip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class BadLine:
    """A skipped input line and why it was skipped."""

    line: int
    reason: str


@dataclass
class ParsedBlock:
    """Rows of a block under canonical field names, all strings, still untyped.

    ``row_lines`` gives the line number of each row; it is computed only when asked, because it
    is needed only to point at a record that turns out to be bad (an unreadable timestamp).
    """

    frame: pl.DataFrame
    row_lines: Callable[[], list[int]]
    bad: list[BadLine] = field(default_factory=list)


def nonblank_line_numbers(data: bytes, first_line: int) -> list[int]:
    """Line numbers of the non-blank lines in ``data``: the rows a line-based reader produces."""
    return [first_line + i for i, line in enumerate(data.split(b"\n")) if line.strip()]
