"""Plain-text output: the same content as the HTML report, for the text part of an email."""

from __future__ import annotations

from botistat.core.model import Report
from botistat.render.html import period_text
from botistat.render.sections import input_lines, report_sections
from botistat.render.sparkline import sparkline
from botistat.render.table import render_sections


def render_text(report: Report, width: int = 100) -> str:
    lines = [f"botistat report, {period_text(report)}", ""]
    if report.timeline:
        messages = sparkline([float(p.messages) for p in report.timeline])
        tokens = sparkline([float(p.tokens) for p in report.timeline])
        hours = report.bucket_seconds / 3600
        every = f"{hours:g}h" if hours >= 1 else f"{report.bucket_seconds // 60}m"
        lines += [
            f"Over time (one mark per {every}):",
            f"  messages {messages}",
            f"  tokens   {tokens}",
            "",
        ]
    body = render_sections(report_sections(report), input_lines(report), width=width)
    return "\n".join(lines) + body
