"""The report as plain data: the documented JSON shape, shared by every machine format."""

from __future__ import annotations

from typing import Any

from botistat.core.model import SCHEMA_VERSION, Report
from botistat.report.compare import changes
from botistat.report.numbers import fraction, in_unit_of, millis
from botistat.report.plain import input_document, iso_time, metrics_document, top_document


def report_document(report: Report) -> dict[str, Any]:
    """The JSON document of a report (see docs/metrics.md for every key)."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "input": input_document(report.input),
        **metrics_document(report.metrics),
        "top": top_document(report.top_usage),
    }
    document["timeline"] = {
        "bucket_seconds": report.bucket_seconds,
        "dense": report.timeline_dense,
        "points": [
            {
                "start": iso_time(p.start),
                "messages": p.messages,
                "tokens": p.tokens,
                "replies": p.replies,
                "p95_ms": millis(p.p95_ms),
                "error_rate": fraction(p.error_rate),
            }
            for p in report.timeline
        ],
    }
    if report.previous is not None:
        document["previous"] = {
            "input": input_document(report.previous.input),
            **metrics_document(report.previous.metrics),
        }
        document["change"] = {
            change.metric: {
                "absolute": in_unit_of(change.metric, change.absolute),
                "percent": fraction(change.percent),
            }
            for change in changes(report.metrics, report.previous.metrics)
        }
    if report.by is not None:
        document["by"] = report.by
        document["groups"] = [
            {"key": group.key, **metrics_document(group.metrics)} for group in report.groups
        ]
    return document
