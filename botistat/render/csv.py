"""CSV output: one row for all records, then one per ``--by`` group; a column per metric.

Columns are the numeric metric paths of the JSON document (``messages.total``,
``response_ms.p95``, ...), so spreadsheets and ``check`` speak the same names. The country table
and the top conversations, users and models do not fit one row; use JSON or Markdown for them.
"""

from __future__ import annotations

import csv
import io

from botistat.core.model import Report
from botistat.report.plain import scalar_metrics

ALL_ROWS = "(all)"


def render_csv(report: Report) -> str:
    rows: list[tuple[str | None, dict[str, float | int | None]]] = [
        (ALL_ROWS, scalar_metrics(report.metrics))
    ]
    rows += [(group.key, scalar_metrics(group.metrics)) for group in report.groups]
    columns = list(rows[0][1])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", *columns])
    for key, values in rows:
        writer.writerow(
            ["" if key is None else key, *("" if values[c] is None else values[c] for c in columns)]
        )
    return out.getvalue()
