"""Floats in JSON and CSV are rounded to what their unit means (docs/metrics.md, "Numbers in
JSON and CSV"); the report itself keeps full precision."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

from botistat.core.model import (
    Comparison,
    Cost,
    Countries,
    CountryAggregate,
    CountryRow,
    Errors,
    InputSummary,
    Messages,
    Metrics,
    ModelCost,
    Report,
    ResponseTimes,
    Spike,
    TimelinePoint,
    TopItem,
    TopUsage,
)
from botistat.render import render
from botistat.report.numbers import fraction, in_unit_of, millis, usd

AT = datetime(2026, 11, 19, 14, tzinfo=UTC)


def awkward_report() -> Report:
    metrics = Metrics(
        messages=Messages(total=3),
        response_ms=ResponseTimes(
            count=3, avg=5510.599999999999, p50=0.1 + 0.2, p95=1234.56789, max=7.0006
        ),
        errors=Errors(transactions=9, rate=9 / 602),
        countries=Countries(
            top=(CountryRow("DE", 2, 1, 2 / 3, "Germany", 1, 10, 100 / 3),),
            other=CountryAggregate(share=1 / 3, avg_response_ms=2 / 3),
            unknown=CountryAggregate(avg_response_ms=1000 / 7),
        ),
        spikes=(
            Spike("response_ms.p95", AT, AT, 1, 9000.123456, 1000 / 3, 2000 / 3, 27.000123456, 0),
            Spike("errors.rate", AT, AT, 1, 1 / 7, 0.01, 2 / 30, 100 / 7, 0),
            Spike("tokens", AT, AT, 1, 90_000.0, 4500.5, 10_000 / 3, None, 90_000),
        ),
        cost=Cost(
            total_usd=0.1 + 0.2,
            by_model=(ModelCost("m", 0.16677674999999997, 3, "log"),),
        ),
    )
    previous = replace(metrics, errors=Errors(transactions=3, rate=3 / 700))
    return Report(
        input=InputSummary(records=3, first_timestamp=AT, last_timestamp=AT),
        metrics=metrics,
        timeline=(TimelinePoint(AT, 3, 10, 3, p95_ms=2 / 3, error_rate=1 / 3),),
        previous=Comparison(InputSummary(records=3), previous),
        top_usage=TopUsage(users=(TopItem("u", 10, 2, 1e-9 + 0.000123456789123),)),
    )


def test_the_rules() -> None:
    assert millis(5510.599999999999) == 5510.6
    assert millis(1 / 3) == 0.333
    assert usd(0.1 + 0.2) == 0.3
    assert usd(0.123456789123) == 0.12345679
    assert fraction(9 / 602) == 0.0149502
    assert fraction(1e-9 / 3) == 3.33333e-10  # significant digits, however small
    assert fraction(None) is None and millis(None) is None
    assert in_unit_of("response_ms.p95", 1 / 3) == 0.333
    assert in_unit_of("errors.rate", 1 / 3) == 0.333333
    assert in_unit_of("cost.total_usd", 1 / 3) == 0.33333333
    assert in_unit_of("tokens", 4500.5) == 4500.5
    assert in_unit_of("messages.total", 3) == 3  # counts stay integers


def test_json_rounds_every_float() -> None:
    document = json.loads(render(awkward_report(), "json"))
    assert document["response_ms"] == {
        "count": 3,
        "avg": 5510.6,
        "p50": 0.3,
        "p90": None,
        "p95": 1234.568,
        "p99": None,
        "max": 7.001,  # half to even on the double nearest 7.0005, which is above it
    }
    assert document["errors"]["rate"] == 0.0149502
    top_country = document["countries"]["top"][0]
    assert (top_country["share"], top_country["avg_response_ms"]) == (0.666667, 33.333)
    assert document["countries"]["other"]["share"] == 0.333333
    assert document["countries"]["unknown"]["avg_response_ms"] == 142.857
    slow, errors, tokens = document["spikes"]
    assert (slow["peak"], slow["baseline"], slow["threshold"]) == (9000.123, 333.333, 666.667)
    assert slow["ratio"] == 27.0001
    assert (errors["peak"], errors["threshold"], errors["ratio"]) == (0.142857, 0.0666667, 14.2857)
    assert (tokens["baseline"], tokens["threshold"], tokens["ratio"]) == (4500.5, 3333.333, None)
    assert document["cost"]["total_usd"] == 0.3
    assert document["cost"]["by_model"][0]["usd"] == 0.16677675
    assert document["top"]["users"][0]["usd"] == 0.00012346
    point = document["timeline"]["points"][0]
    assert (point["p95_ms"], point["error_rate"]) == (0.667, 0.333333)
    # From the rounded rates 0.0149502 and 0.00428571 (3/700): 0.01066449 and 248.8383...%.
    change = document["change"]["errors.rate"]
    assert change == {"absolute": 0.0106645, "percent": 248.838}
    assert document["change"]["response_ms.avg"] == {"absolute": 0.0, "percent": 0.0}


def test_csv_rounds_as_json_does() -> None:
    [row] = list(csv.DictReader(io.StringIO(render(awkward_report(), "csv"))))
    assert row["response_ms.avg"] == "5510.6"
    assert row["errors.rate"] == "0.0149502"
    assert row["cost.total_usd"] == "0.3"


def test_the_report_keeps_full_precision() -> None:
    report = awkward_report()
    assert report.metrics.response_ms.avg == 5510.599999999999
    assert report.metrics.errors.rate == 9 / 602
