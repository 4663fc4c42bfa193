"""JSON output: the report document, pretty-printed, keys in a stable order."""

from __future__ import annotations

import json

from botistat.core.model import Report
from botistat.report.document import report_document


def render_json(report: Report) -> str:
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"
