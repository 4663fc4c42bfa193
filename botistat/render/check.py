"""Output of ``botistat check``: a table, JSON, JUnit XML, a Markdown summary and GitHub
Actions annotations, all from one :class:`CheckResult`."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from botistat.render.markdown import markdown_table
from botistat.render.sections import Section, count, millis, percent
from botistat.report.thresholds import CheckResult, Outcome, is_milliseconds, is_rate

STATUS_LABELS = {"pass": "pass", "fail": "FAIL", "no_data": "no data"}


def format_value(metric: str, value: float | None) -> str:
    """A metric value in its natural unit: rates as percent, reply times in ms."""
    if value is None:
        return "-"
    if is_rate(metric):
        return percent(value)
    if is_milliseconds(metric):
        return f"{millis(value)} ms"
    return count(int(value)) if value == int(value) else f"{value:,.2f}"


def describe_margin(outcome: Outcome) -> str:
    """For a failure, by how much and in which direction it misses the limit."""
    margin = outcome.margin
    if margin is None:
        return ""
    metric, op = outcome.threshold.metric, outcome.threshold.op
    amount = abs(margin)
    shown = f"{amount * 100:.2f} pp" if is_rate(metric) else format_value(metric, amount)
    if op in ("<", "<="):
        return f"over by {shown}"
    if op in (">", ">="):
        return f"under by {shown}"
    if op == "==":
        return f"off by {shown}"
    return "equal to the limit"


def group_label(result: CheckResult, outcome: Outcome) -> str:
    if result.by is None:
        return "(all)"
    return f"{result.by}={'(none)' if outcome.group is None else outcome.group}"


def check_section(result: CheckResult) -> Section:
    rows = tuple(
        (
            outcome.threshold.text,
            group_label(result, outcome),
            format_value(outcome.threshold.metric, outcome.actual),
            STATUS_LABELS[outcome.status],
            describe_margin(outcome),
        )
        for outcome in result.outcomes
    )
    failed = len(result.failures)
    verdict = "all thresholds hold" if result.passed else f"{failed} check(s) failed"
    return Section(
        "Checks",
        ("Threshold", "Group", "Actual", "Result", "By how much"),
        rows,
        frozenset({2}),
        verdict,
    )


def check_document(result: CheckResult) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "passed": result.passed,
        "by": result.by,
        "allow_empty": result.allow_empty,
        "failures": len(result.failures),
        "checks": [
            {
                "threshold": o.threshold.text,
                "metric": o.threshold.metric,
                "op": o.threshold.op,
                "limit": o.threshold.value,
                "group": o.group,
                "actual": o.actual,
                "status": o.status,
                "margin": o.margin,
            }
            for o in result.outcomes
        ],
    }


def render_check_json(result: CheckResult) -> str:
    return json.dumps(check_document(result), indent=2) + "\n"


def render_junit(result: CheckResult) -> str:
    """JUnit XML: one test case per threshold and group."""
    passed = sum(o.status == "pass" for o in result.outcomes)
    suite = ElementTree.Element(
        "testsuite",
        name="botistat check",
        tests=str(len(result.outcomes)),
        failures=str(len(result.failures)),
        errors="0",
        skipped=str(len(result.outcomes) - len(result.failures) - passed),
    )
    for outcome in result.outcomes:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"botistat.check.{outcome.threshold.metric}",
            name=f"{outcome.threshold.text} [{group_label(result, outcome)}]",
        )
        actual = format_value(outcome.threshold.metric, outcome.actual)
        if outcome.status == "fail":
            failure = ElementTree.SubElement(
                case, "failure", message=f"actual {actual}, {describe_margin(outcome)}"
            )
            failure.text = f"{outcome.threshold.text} does not hold: actual {actual}"
        elif outcome.status == "no_data":
            tag = "skipped" if result.allow_empty else "failure"
            ElementTree.SubElement(case, tag, message="no data for this metric")
    suites = ElementTree.Element("testsuites")
    suites.append(suite)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def render_summary_markdown(result: CheckResult) -> str:
    """The GitHub step summary: a headline and the table of checks."""
    section = check_section(result)
    icon = "✅" if result.passed else "❌"
    lines = [f"### {icon} botistat check: {section.note}", "", *markdown_table(section)]
    return "\n".join(lines) + "\n"


def github_annotations(result: CheckResult) -> list[str]:
    """``::error`` workflow commands for the failures, escaped as GitHub requires."""

    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    lines = []
    for outcome in result.failures:
        actual = format_value(outcome.threshold.metric, outcome.actual)
        where = "" if result.by is None else f" for {group_label(result, outcome)}"
        detail = "no data" if outcome.status == "no_data" else f"actual {actual}"
        message = f"{outcome.threshold.text} failed{where}: {detail} {describe_margin(outcome)}"
        lines.append(f"::error title=botistat check::{escape(message.strip())}")
    return lines
