"""Thresholds for ``botistat check``: parse ``<metric> <op> <value>`` and judge a report.

A metric is any numeric path of the report's JSON (``errors.rate``, ``response_ms.p95``). A
value is a number, optionally with ``%`` (``2%`` is 0.02), a time unit for millisecond metrics
(``ms``, ``s``, ``m``, ``h``: ``3s`` is 3000) or a count suffix (``k``, ``M``, ``G``).
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal

from botistat.core.errors import ConfigError
from botistat.core.model import Metrics, Report
from botistat.report.plain import scalar_metrics

OPERATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
UNITS: Final = {
    "%": 0.01,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
}
TIME_UNITS: Final = ("ms", "s", "m", "h")
_EXPRESSION: Final = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
    r"(?P<unit>%|ms|s|m|h|k|M|G)?\s*$"
)

Status = Literal["pass", "fail", "no_data"]


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold; ``text`` is how the user wrote it."""

    metric: str
    op: str
    value: float
    text: str

    def holds(self, actual: float) -> bool:
        return OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True)
class Outcome:
    """A threshold judged in one group (``group`` None: all records)."""

    threshold: Threshold
    group: str | None
    actual: float | None
    status: Status

    @property
    def margin(self) -> float | None:
        """How far the actual value is from the limit (actual minus limit), for failures."""
        if self.status != "fail" or self.actual is None:
            return None
        return self.actual - self.threshold.value


@dataclass(frozen=True)
class CheckResult:
    outcomes: tuple[Outcome, ...]
    by: str | None
    allow_empty: bool

    @property
    def failures(self) -> tuple[Outcome, ...]:
        """Breaches, and "no data" unless empty data is allowed."""
        bad: tuple[Status, ...] = ("fail",) if self.allow_empty else ("fail", "no_data")
        return tuple(o for o in self.outcomes if o.status in bad)

    @property
    def passed(self) -> bool:
        return not self.failures


def metric_names() -> list[str]:
    """Every metric a threshold can name, in report order."""
    return [*scalar_metrics(Metrics()), *INPUT_METRICS]


INPUT_METRICS: Final = ("input.files", "input.records", "input.skipped", "input.ignored")


def parse_threshold(text: str, where: str = "--threshold") -> Threshold:
    """Parse ``<metric> <op> <value>``; errors point at the part that does not parse."""
    match = _EXPRESSION.match(text)
    if match is None:
        raise ConfigError(f"cannot parse threshold {text!r}: {_what_is_wrong(text)}", where)
    metric, unit = match["metric"], match["unit"]
    names = metric_names()
    if metric not in names:
        close = difflib.get_close_matches(metric, names, n=1, cutoff=0.5)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown metric {metric!r} in threshold {text!r}",
            where,
            f"{suggestion}valid metrics: {', '.join(names)}",
        )
    if unit in TIME_UNITS and not is_milliseconds(metric):
        raise ConfigError(
            f"threshold {text!r}: time unit {unit!r} on {metric}, which is not in milliseconds",
            where,
        )
    if unit == "%" and not is_rate(metric):
        raise ConfigError(f"threshold {text!r}: % only applies to rates such as errors.rate", where)
    scale = UNITS[unit] if unit else 1.0
    return Threshold(metric, match["op"], float(match["number"]) * scale, text.strip())


def parse_thresholds(texts: Iterable[str], where: str) -> list[Threshold]:
    return [parse_threshold(text, where) for text in texts]


def evaluate(
    thresholds: list[Threshold], report: Report, *, allow_empty: bool = False
) -> CheckResult:
    """Judge every threshold overall, or in every group when the report has ``--by``.

    Counts and sums have a value on any input, 0 when it is empty, so ``messages.total > 0``
    fails when the logs stop. Only what is computed from records that may be missing (rates,
    averages, percentiles: see :func:`can_be_empty`) has no value, and is "no data". With
    ``--by`` and no group at all (no records), thresholds are judged over all records.
    """
    if report.by is None or not report.groups:
        scopes: list[tuple[str | None, Metrics]] = [(None, report.metrics)]
    else:
        scopes = [(group.key, group.metrics) for group in report.groups]
    # Flattened once per scope, not once per threshold.
    inputs = {name: getattr(report.input, name.split(".", 1)[1]) for name in INPUT_METRICS}
    values = [{**scalar_metrics(metrics), **inputs} for _, metrics in scopes]
    outcomes = []
    for threshold in thresholds:
        for (group, _), scope_values in zip(scopes, values, strict=True):
            value = scope_values[threshold.metric]
            actual = None if value is None else float(value)
            if actual is None:
                status: Status = "no_data"
            else:
                status = "pass" if threshold.holds(actual) else "fail"
            outcomes.append(Outcome(threshold, group, actual, status))
    return CheckResult(tuple(outcomes), report.by, allow_empty)


def can_be_empty(metric: str) -> bool:
    """Whether a metric has no value ("no data") when there is nothing to compute it from:
    rates, averages and percentiles; counts and sums are 0 instead."""
    return scalar_metrics(Metrics()).get(metric, 0) is None


def is_rate(metric: str) -> bool:
    return metric.endswith(".rate")


def is_milliseconds(metric: str) -> bool:
    return metric.startswith("response_ms.") and metric != "response_ms.count"


def _what_is_wrong(text: str) -> str:
    """Say which part of a threshold expression is wrong, and where."""
    head = re.match(r"\s*[A-Za-z_][\w.]*", text)
    if head is None:
        return "it must start with a metric name, e.g. errors.rate < 2%"
    rest = text[head.end() :]
    op = re.match(r"\s*(<=|>=|==|!=|<|>)", rest)
    if op is None:
        column = head.end() + len(rest) - len(rest.lstrip()) + 1
        return f"expected one of < <= > >= == != after {head.group().strip()!r} (column {column})"
    value = rest[op.end() :]
    column = head.end() + op.end() + len(value) - len(value.lstrip()) + 1
    if not value.strip():
        return f"expected a number after {op.group(1)!r} (column {column})"
    return (
        f"{value.strip()!r} is not a number with an optional unit "
        f"(%, ms, s, m, h, k, M, G) (column {column})"
    )
