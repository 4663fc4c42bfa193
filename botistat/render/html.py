"""HTML output: one self-contained page that renders in mail clients and browsers.

No JavaScript and no external assets; styles are inline on each element (many mail clients
drop ``<style>`` blocks) and the layout is made of tables, which every client renders alike.
The chart is inline SVG: messages as bars, tokens as a line, spike buckets shaded red.
"""

from __future__ import annotations

from html import escape

from botistat.core.model import Report, TimelinePoint
from botistat.render.sections import (
    Section,
    change_text,
    cost_section,
    countries_section,
    kpi_value,
    millis,
    report_sections,
    short_time,
    spikes_section,
    top_sections,
)
from botistat.report.compare import Change, changes
from botistat.report.plain import scalar_metrics

FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
TEXT = "#1f2933"
MUTED = "#6b7785"
LINE = "#d9dee4"
ACCENT = "#2563eb"
BAD = "#c0392b"
GOOD = "#1e8449"
TONE_COLOURS = {"bad": BAD, "good": GOOD, "neutral": MUTED}
TILES = (
    ("messages.total", "Messages"),
    ("messages.user", "User messages"),
    ("messages.bot_responses", "Bot responses"),
    ("messages.failed", "Failed"),
    ("errors.rate", "Error rate"),
    ("response_ms.p95", "p95 reply ms"),
    ("tokens.total", "Tokens"),
    ("tokens.error", "Error tokens"),
)


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title(report))}</title></head>",
        f'<body style="margin:0;padding:0;background:#f4f6f8;{FONT}color:{TEXT};">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="background:#f4f6f8;"><tr><td align="center" style="padding:24px 12px;">',
        '<table role="presentation" width="640" cellpadding="0" cellspacing="0" '
        f'style="max-width:640px;width:100%;background:#ffffff;border:1px solid {LINE};">',
        _row(_header(report)),
        _row(_tiles(report)),
        _row(_heading("Messages and tokens over time") + chart_svg(report)),
    ]
    wanted = ("Response time (ms)", "Tokens")
    for section in report_sections(report):
        if section.title in wanted:
            parts.append(_row(_heading(section.title) + _table(section)))
    cost = cost_section(report.metrics)
    no_cost = _note(cost.note or "No tokens to price in this period.")
    parts.append(_row(_heading("Cost") + (_table(cost) if cost.rows else no_cost)))
    parts += [_row(_heading(top.title) + _table(top)) for top in top_sections(report)]
    parts.append(_row(_heading("Countries") + _table(countries_section(report.metrics.countries))))
    # Ids whole: a reader searches the logs for them.
    spikes = spikes_section(report)
    parts.append(_row(_heading("Spikes") + (_table(spikes) if spikes.rows else _note(spikes.note))))
    parts.append(_row(_footer(report)))
    parts += ["</table>", "</td></tr></table>", "</body></html>"]
    return "\n".join(parts) + "\n"


def title(report: Report) -> str:
    return f"botistat report, {period_text(report)}"


def period_text(report: Report) -> str:
    """The period covered: the range asked for, else the first and last record."""
    start = report.input.since or report.input.first_timestamp
    end = report.input.until or report.input.last_timestamp
    if start is None or end is None:
        return "no data"
    return f"{short_time(start)} to {short_time(end)} UTC"


def chart_svg(report: Report, width: int = 600, height: int = 180) -> str:
    """Messages per bucket as bars, tokens as a line on their own scale, spikes shaded."""
    points = report.timeline
    if not points:
        return _note("No records in this period.")
    left, right, top, bottom = 8, 8, 18, 22
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / len(points)
    most_messages = max(p.messages for p in points) or 1
    most_tokens = max(p.tokens for p in points) or 1
    spiked = _spike_buckets(report, points)
    shapes = []
    for index, point in enumerate(points):
        x = left + index * step
        if index in spiked:
            shapes.append(
                f'<rect x="{x:.1f}" y="{top}" width="{step:.1f}" height="{inner_h}" '
                f'fill="{BAD}" fill-opacity="0.15"/>'
            )
        bar = inner_h * point.messages / most_messages
        shapes.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + inner_h - bar:.1f}" '
            f'width="{max(step * 0.7, 0.5):.1f}" height="{bar:.1f}" fill="#9db8f0"/>'
        )
    line = " ".join(
        f"{left + (i + 0.5) * step:.1f},{top + inner_h - inner_h * p.tokens / most_tokens:.1f}"
        for i, p in enumerate(points)
    )
    shapes.append(f'<polyline points="{line}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    labels = [
        f'<text x="{left}" y="12" font-size="11" fill="{MUTED}">messages (bars, max '
        f"{most_messages:,}) and tokens (line, max {most_tokens:,})"
        f"{', spikes shaded' if spiked else ''}</text>",
        f'<text x="{left}" y="{height - 6}" font-size="11" fill="{MUTED}">'
        f"{escape(short_time(points[0].start))}</text>",
        f'<text x="{width - right}" y="{height - 6}" font-size="11" fill="{MUTED}" '
        f'text-anchor="end">{escape(short_time(points[-1].start))}</text>',
        f'<line x1="{left}" y1="{top + inner_h}" x2="{width - right}" y2="{top + inner_h}" '
        f'stroke="{LINE}"/>',
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="messages and tokens over time" '
        f'style="display:block;max-width:100%;height:auto;{FONT}">'
        + "".join(shapes + labels)
        + "</svg>"
    )


def _spike_buckets(report: Report, points: tuple[TimelinePoint, ...]) -> set[int]:
    index = {point.start: i for i, point in enumerate(points)}
    hit: set[int] = set()
    for spike in report.metrics.spikes:
        for start, i in index.items():
            if spike.start <= start < spike.end:
                hit.add(i)
    return hit


def _header(report: Report) -> str:
    return (
        f'<div style="font-size:20px;font-weight:600;">botistat report</div>'
        f'<div style="font-size:13px;color:{MUTED};margin-top:4px;">'
        f"{escape(period_text(report))}"
        + (" &middot; compared with the period before" if report.previous else "")
        + "</div>"
    )


def _tiles(report: Report) -> str:
    by_metric: dict[str, Change] = {}
    if report.previous is not None:
        by_metric = {c.metric: c for c in changes(report.metrics, report.previous.metrics)}
    values = scalar_metrics(report.metrics)
    cells = []
    for metric, label in TILES:
        change = by_metric.get(metric)
        delta = ""
        if change is not None:
            colour = TONE_COLOURS[change.tone]
            text = change_text(metric, change.absolute, change.percent, change.arrow())
            delta = (
                f'<div style="font-size:11px;color:{colour};margin-top:2px;">{escape(text)}</div>'
            )
        cells.append(
            f'<td width="25%" valign="top" style="padding:8px;border:1px solid {LINE};">'
            f'<div style="font-size:11px;color:{MUTED};text-transform:uppercase;">{label}</div>'
            f'<div style="font-size:20px;font-weight:600;margin-top:2px;">'
            f"{escape(kpi_value(metric, values[metric]))}</div>{delta}</td>"
        )
    rows = "".join(f"<tr>{''.join(cells[i : i + 4])}</tr>" for i in range(0, len(cells), 4))
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;">{rows}</table>'
    )


def _table(section: Section) -> str:
    head = "".join(
        f'<th align="{_align(section, i)}" style="padding:6px 8px;font-size:11px;color:{MUTED};'
        f'border-bottom:2px solid {LINE};">{escape(column)}</th>'
        for i, column in enumerate(section.columns)
    )
    tones = {(r, c): tone for r, c, tone in section.tones}
    body = "".join(
        "<tr>"
        + "".join(
            f'<td align="{_align(section, i)}" style="padding:6px 8px;font-size:13px;'
            f"border-bottom:1px solid {LINE};{_wrap(section, i)}"
            f'color:{TONE_COLOURS.get(tones.get((r, i), ""), TEXT)};">{escape(cell)}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for r, row in enumerate(section.rows)
    )
    note = _note(section.note) if section.note else ""
    return (
        '<table width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;">'
        f"<tr>{head}</tr>{body}</table>{note}"
    )


def _footer(report: Report) -> str:
    i = report.input
    dropped = f", {i.invalid:,} implausible values dropped" if i.invalid else ""
    if i.skipped_files:
        dropped += f", {len(i.skipped_files):,} file(s) skipped"
    text = (
        f"Read {i.files:,} file(s): {i.records:,} records, {i.skipped:,} skipped, "
        f"{i.ignored:,} ignored{dropped}. "
        f"Average reply {millis(report.metrics.response_ms.avg)} ms."
    )
    return f'<div style="font-size:11px;color:{MUTED};">{escape(text)}</div>'


def _row(content: str) -> str:
    return f'<tr><td style="padding:16px 20px;border-bottom:1px solid {LINE};">{content}</td></tr>'


def _heading(text: str) -> str:
    return f'<div style="font-size:15px;font-weight:600;margin:0 0 8px;">{escape(text)}</div>'


def _note(text: str) -> str:
    return f'<div style="font-size:12px;color:{MUTED};margin-top:6px;">{escape(text)}</div>'


def _wrap(section: Section, index: int) -> str:
    # Numbers and the first column (names, times) read badly broken over lines.
    return "white-space:nowrap;" if index == 0 or index in section.numeric else ""


def _align(section: Section, index: int) -> str:
    return "right" if index in section.numeric else "left"
