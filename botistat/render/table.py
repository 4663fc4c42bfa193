"""Terminal output: Rich tables; plain, uncoloured text when the output is not a terminal."""

from __future__ import annotations

import io

from botistat.core.model import Report
from botistat.render.sections import Section, input_lines, report_sections

TONE_STYLES = {"bad": "bold red", "good": "green"}


def render_table(report: Report, *, color: bool = False, width: int = 100) -> str:
    return render_sections(report_sections(report), input_lines(report), color=color, width=width)


def render_sections(
    sections: list[Section], footer: list[str], *, color: bool = False, width: int = 100
) -> str:
    """Sections as Rich tables, then footer lines; ASCII and no colour unless ``color``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(
        file=out,
        force_terminal=color,
        no_color=not color,
        width=width,
        highlight=False,
        emoji=False,
    )
    for section in sections:
        table = Table(
            title=section.title,
            title_justify="left",
            title_style="bold" if color else "",
            box=box.ROUNDED if color else box.ASCII,
            header_style="bold cyan" if color else "",
            caption=section.note or None,
            caption_justify="left",
            caption_style="dim" if color else "",
        )
        for index, column in enumerate(section.columns):
            table.add_column(
                column, justify="right" if index in section.numeric else "left", no_wrap=True
            )
        tones = {(row, column): tone for row, column, tone in section.tones}
        for index, row in enumerate(section.rows):
            cells = [
                Text(cell, style=TONE_STYLES.get(tones.get((index, column), ""), ""))
                if color
                else cell
                for column, cell in enumerate(row)
            ]
            table.add_row(*cells)
        console.print(table)
        console.print()
    for line in footer:
        console.print(line, style="dim" if color else "", markup=False, soft_wrap=True)
    text = out.getvalue()
    if not color:
        # Rich pads titles to the table width; plain output should diff cleanly.
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    return text
