"""Markdown output: the same tables as the terminal, as GitHub-flavoured pipe tables."""

from __future__ import annotations

from botistat.core.model import Report
from botistat.render.html import title
from botistat.render.sections import Section, input_lines, report_sections


def render_markdown(report: Report) -> str:
    parts = [f"# {title(report)}", ""]
    # Not bound to a terminal's width: ids are shown whole, to be searched for in the logs.
    for section in report_sections(report, blocks=True):
        parts += [f"## {section.title}", "", *markdown_table(section), ""]
        if section.note:
            parts += [f"_{section.note}_", ""]
    parts += [f"_{line.strip()}_  " for line in input_lines(report)]
    return "\n".join(parts).rstrip() + "\n"


def markdown_table(section: Section) -> list[str]:
    def cells(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    align = tuple("---:" if i in section.numeric else "---" for i in range(len(section.columns)))
    return [cells(section.columns), "|" + "|".join(align) + "|", *map(cells, section.rows)]
