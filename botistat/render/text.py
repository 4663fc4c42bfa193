"""Plain-text output: the same content as the HTML report, for the text part of an email."""

from __future__ import annotations

from botistat.core.model import Report
from botistat.render.html import title
from botistat.render.sections import input_lines, report_sections
from botistat.render.table import render_sections


def render_text(report: Report, width: int = 100) -> str:
    """The period, then the terminal's sections (the sparklines over time first, in block
    characters: an email's text is UTF-8)."""
    sections = report_sections(report, blocks=True)
    body = render_sections(sections, input_lines(report), width=width)
    return f"{title(report)}\n\n{body}"
