"""What a parser returns for one block: the good rows, and the lines it had to skip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")


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


class IntegersFirst:
    """Token counts are read as integers until an input shows they are not; then as text.

    Counts are usually written as integers, and reading them as such skips turning each into
    text and back. Where an input writes them as text or fractions the integer read fails,
    and from that block on the input's counts are read as text, typed afterwards like every
    other field. The switch is per input, and sticks.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def read(
        self,
        as_integers: Callable[[], T],
        as_text: Callable[[], T],
        counts_were_text: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """One block, read by ``as_integers`` while enabled; by ``as_text`` when that fails
        (it may raise in turn: the block is bad either way), and from then on if the text
        read tells that the counts were the cause."""
        import polars as pl

        if not self.enabled:
            return as_text()
        try:
            return as_integers()
        except (pl.exceptions.PolarsError, ValueError):
            result = as_text()
            if counts_were_text(result):
                self.enabled = False
            return result
