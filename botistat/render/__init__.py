"""Renderers: a report in, text out, chosen by name through a small registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from botistat.core.model import Report
from botistat.render.csv import render_csv
from botistat.render.html import render_html
from botistat.render.json import render_json
from botistat.render.markdown import render_markdown
from botistat.render.table import render_table
from botistat.render.text import render_text


@dataclass(frozen=True)
class Terminal:
    """How the output will be shown (``botistat.cli.common.terminal_for`` chooses): colours
    unless NO_COLOR says otherwise; on a terminal (``tty``), tables drawn with box characters
    and fitted to its ``width``; elsewhere, tables as wide as their content needs."""

    color: bool = False
    width: int = 100
    tty: bool = False


Renderer = Callable[[Report, Terminal], str]

RENDERERS: Final[dict[str, Renderer]] = {
    "table": lambda report, terminal: render_table(
        report, color=terminal.color, width=terminal.width, tty=terminal.tty
    ),
    "json": lambda report, _: render_json(report),
    "csv": lambda report, _: render_csv(report),
    "markdown": lambda report, _: render_markdown(report),
    "html": lambda report, _: render_html(report),
    "text": lambda report, terminal: render_text(report, width=terminal.width),
}


def render(report: Report, fmt: str, terminal: Terminal | None = None) -> str:
    """Render ``report`` in format ``fmt`` (a key of :data:`RENDERERS`)."""
    return RENDERERS[fmt](report, terminal or Terminal())
