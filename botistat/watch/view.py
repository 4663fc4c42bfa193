"""The terminal view of ``botistat watch``: the open bucket against its baseline, a small
chart of the window, and the latest alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botistat.render.sparkline import sparkline
from botistat.watch.monitor import LiveMonitor

if TYPE_CHECKING:
    from rich.console import RenderableType


def live_view(monitor: LiveMonitor, files: int, events: Sequence[dict[str, Any]]) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="botistat watch", title_justify="left", show_header=True)
    for column in ("Metric", "Open bucket", "Median", "Threshold", "Window"):
        table.add_column(column, justify="right" if column != "Window" else "left")
    for metric, label in (
        ("tokens", "tokens"),
        ("cost.usd", "cost USD"),
        ("response_ms.p95", "p95 reply ms"),
        ("errors.rate", "error rate"),
    ):
        value, level = monitor.current(metric)
        over = value is not None and level is not None and value > level.threshold
        table.add_row(
            label,
            Text(_fmt(metric, value), style="bold red" if over else ""),
            _fmt(metric, level.median if level else None),
            _fmt(metric, level.threshold if level else None),
            sparkline(monitor.series(metric)),
        )
    status = Text(
        f"{files} file(s) followed, {monitor.records:,} messages read, "
        f"{monitor.conversations:,} open conversations",
        style="dim",
    )
    recent = Text("\n".join(event["text"] for event in events[-5:]) or "no alerts yet")
    return Group(table, status, Text("Recent alerts:", style="bold"), recent)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "errors.rate":
        return f"{value * 100:.1f}%"
    if metric == "cost.usd":
        return f"{value:,.2f}"
    return f"{value:,.0f}"
