"""Terminal output: Rich tables; plain, uncoloured text when the output is not a terminal.

Nothing in a table is ever cut short (``3,71…``). Off a terminal a table is as wide as its
content. On a terminal (``tty``) a table wider than the screen is fitted to it: a table of one
row is turned on its side (a row per column); otherwise the headers of numbers wrap at their
spaces, then text columns (names, ids, scopes) wrap, not below :data:`MIN_TEXT_WIDTH` nor
their longest words; if that is not enough, columns are hidden, least useful first
(:data:`DROP_FIRST`, then from the right), and the caption names them. Numbers never wrap.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Literal

from botistat.core.model import Report
from botistat.render.sections import Section, input_lines, report_sections

if TYPE_CHECKING:
    from rich.table import Table

TONE_STYLES = {"bad": "bold red", "good": "green"}
#: A text column is never made narrower than this (unless its content is narrower), nor
#: than its longest word up to :data:`MAX_WORD_WIDTH`: longer words (ids) are folded.
MIN_TEXT_WIDTH: Final = 10
MAX_WORD_WIDTH: Final = 16
#: The first column names the row (a group, a model): its words are kept whole up to this.
MAX_LABEL_WORD_WIDTH: Final = 24
#: Columns left out first when a table cannot fit the terminal, by header.
DROP_FIRST: Final = (
    "Top",
    "x median",
    "For",
    "Cache write",
    "Cache read",
    "Priced from",
    "User",
    "Bot",
    "Conv.",
    "Users",
    "#",
    "p50 ms",
    "Avg reply ms",
    "Error tokens",
    "Share",
)


def render_table(
    report: Report, *, color: bool = False, width: int = 100, tty: bool = False
) -> str:
    return render_sections(
        report_sections(report), input_lines(report), color=color, width=width, tty=tty
    )


@dataclass(frozen=True)
class Layout:
    """A section as it will be drawn: the columns kept and, when it had to be fitted to the
    terminal, the width of each (None: as wide as its content)."""

    section: Section
    widths: tuple[int, ...] | None = None


def render_sections(
    sections: list[Section],
    footer: list[str],
    *,
    color: bool = False,
    width: int = 100,
    tty: bool = False,
) -> str:
    """Sections as Rich tables, then footer lines. On a terminal (``tty``) each table fits
    ``width``; elsewhere each is as wide as its content. ASCII and no colour unless ``color``
    or ``tty``."""
    from rich.console import Console

    layouts = [fit(section, width) if tty else Layout(section) for section in sections]
    if not tty:
        # Never narrower than a table: Rich would squeeze its columns, cutting numbers short.
        width = max([width, *(natural_width(layout.section) for layout in layouts)])
    out = io.StringIO()
    console = Console(
        file=out,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        width=width,
        highlight=False,
        emoji=False,
    )
    for layout in layouts:
        console.print(_table(layout, color=color, boxed=color or tty))
        console.print()
    for line in footer:
        console.print(line, style="dim" if color else "", markup=False, soft_wrap=True)
    text = out.getvalue()
    if not color:
        # Rich pads titles to the table width; plain output should diff cleanly.
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    return text


def _table(layout: Layout, *, color: bool, boxed: bool) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    section = layout.section
    table = Table(
        title=section.title,
        title_justify="left",
        title_style="bold" if color else "",
        box=box.ROUNDED if boxed else box.ASCII,
        header_style="bold cyan" if color else "",
        caption=section.note or None,
        caption_justify="left",
        caption_style="dim" if color else "",
    )
    for index, column in enumerate(section.columns):
        justify: Literal["right", "left"] = "right" if index in section.numeric else "left"
        if layout.widths is None:
            table.add_column(column, justify=justify, no_wrap=True)
        else:
            table.add_column(column, justify=justify, width=layout.widths[index], overflow="fold")
    tones = {(row, column): tone for row, column, tone in section.tones}
    for index, row in enumerate(section.rows):
        cells = [
            Text(cell, style=TONE_STYLES.get(tones.get((index, column), ""), "")) if color else cell
            for column, cell in enumerate(row)
        ]
        table.add_row(*cells)
    return table


def fit(section: Section, width: int) -> Layout:
    """``section`` laid out to be at most ``width`` wide (see the module's docstring)."""
    if natural_width(section) <= width:
        return Layout(section)
    if len(section.rows) == 1 and len(section.columns) > 2:
        return fit(on_its_side(section), width)
    dropped: list[str] = []
    kept = section
    while _overhead(kept) + sum(_least(kept, i) for i in range(len(kept.columns))) > width:
        column = _next_to_drop(kept)
        if column is None:
            break  # as narrow as it gets: the terminal is narrower than any table
        dropped.append(kept.columns[column])
        kept = without_column(kept, column)
    if dropped:
        note = f"Hidden at this width: {', '.join(dropped)}; --format text shows all."
        kept = replace(kept, note=f"{kept.note} {note}".strip())
    return Layout(kept, _shrunk_widths(kept, width - _overhead(kept)))


def natural_width(section: Section) -> int:
    """How wide ``section``'s table is when nothing wraps."""
    return _overhead(section) + sum(_natural(section, i) for i in range(len(section.columns)))


def on_its_side(section: Section) -> Section:
    """A one-row table as a row per column: ``Prompt | 1,321,835``, ..."""
    (row,) = section.rows
    numeric = frozenset({1}) if section.numeric else frozenset()
    tones = tuple((column, 1, tone) for _, column, tone in section.tones)
    return replace(
        section,
        columns=("Metric", "Value"),
        rows=tuple(zip(section.columns, row, strict=True)),
        numeric=numeric,
        tones=tones,
    )


def without_column(section: Section, column: int) -> Section:
    def shifted(index: int) -> int:
        return index - 1 if index > column else index

    return replace(
        section,
        columns=section.columns[:column] + section.columns[column + 1 :],
        rows=tuple(row[:column] + row[column + 1 :] for row in section.rows),
        numeric=frozenset(shifted(i) for i in section.numeric if i != column),
        tones=tuple((r, shifted(c), tone) for r, c, tone in section.tones if c != column),
    )


def _overhead(section: Section) -> int:
    """Borders and padding: one space each side of a cell, a rule between cells and at the
    edges."""
    return 3 * len(section.columns) + 1


def _cells(section: Section, column: int) -> int:
    from rich.cells import cell_len

    return max((cell_len(row[column]) for row in section.rows), default=0)


def _natural(section: Section, column: int) -> int:
    from rich.cells import cell_len

    return max(_cells(section, column), cell_len(section.columns[column]))


def _least(section: Section, column: int) -> int:
    """The narrowest a column may be: a number's full width, a header's longest word, and
    a text column wrapped at its words (see :data:`MIN_TEXT_WIDTH`)."""
    header = _longest_word([section.columns[column]])
    if column in section.numeric:
        return max(_cells(section, column), header)
    limit = MAX_LABEL_WORD_WIDTH if column == 0 else MAX_WORD_WIDTH
    words = min(_longest_word(row[column] for row in section.rows), limit)
    return min(_natural(section, column), max(MIN_TEXT_WIDTH, words, header))


def _longest_word(texts: Iterable[str]) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for text in texts for word in text.split()), default=0)


def _next_to_drop(section: Section) -> int | None:
    """The column to leave out next: a known low-priority one, else the rightmost; never
    the first (it names the row) and never the last one left beside it."""
    if len(section.columns) <= 2:
        return None
    for name in DROP_FIRST:
        if name in section.columns[1:]:
            return section.columns.index(name, 1)
    return len(section.columns) - 1


def _shrunk_widths(section: Section, room: int) -> tuple[int, ...]:
    """Column widths that fill at most ``room``, none below its least width: first the
    headers of numbers wrap, then text columns, the widest giving way first."""
    widths = [_natural(section, i) for i in range(len(section.columns))]
    for numbers in (True, False):
        chosen = [i for i in range(len(widths)) if (i in section.numeric) == numbers]
        least = {i: _least(section, i) for i in chosen}
        cap = max((widths[i] for i in chosen), default=0)
        while sum(widths) > room and cap > 0:
            cap -= 1
            for i in chosen:
                widths[i] = max(least[i], min(widths[i], cap))
    return tuple(widths)
