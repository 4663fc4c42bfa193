"""The sections of a report as plain data (the documented JSON shape), and every numeric
metric by its dotted path (what thresholds and comparisons name).

Floats are rounded here, and only here, to what their unit can mean (:mod:`.numbers`): JSON,
CSV, ``check`` and comparisons all see the numbers the document shows."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from botistat.core.model import (
    Contributor,
    Cost,
    Countries,
    InputSummary,
    Metrics,
    Spike,
    TopUsage,
)
from botistat.geo.addresses import REASONS
from botistat.report.numbers import fraction, in_unit_of, millis, usd


def metrics_document(metrics: Metrics) -> dict[str, Any]:
    return {
        "messages": asdict(metrics.messages),
        "response_ms": {
            name: value if name == "count" else millis(value)
            for name, value in asdict(metrics.response_ms).items()
        },
        "tokens": asdict(metrics.tokens),
        "errors": {
            "transactions": metrics.errors.transactions,
            "rate": fraction(metrics.errors.rate),
        },
        "countries": countries_document(metrics.countries),
        "spikes": [spike_document(spike) for spike in metrics.spikes],
        "cost": cost_document(metrics.cost),
    }


def cost_document(cost: Cost) -> dict[str, Any]:
    return {
        "total_usd": usd(cost.total_usd),
        "partial": cost.partial,
        "by_model": [asdict(item) | {"usd": usd(item.usd)} for item in cost.by_model],
        "unpriced_models": [
            {
                "model": item.model,
                "records": item.records,
                "tokens": {
                    "prompt": item.prompt_tokens,
                    "completion": item.completion_tokens,
                    "total": item.total_tokens,
                    "cache_read": item.cache_read_tokens,
                    "cache_write": item.cache_write_tokens,
                },
            }
            for item in cost.unpriced_models
        ],
        "source": cost.source,
    }


def top_document(top: TopUsage) -> dict[str, Any]:
    return {
        kind: [asdict(item) | {"usd": usd(item.usd)} for item in items]
        for kind, items in (
            ("conversations", top.conversations),
            ("users", top.users),
            ("models", top.models),
        )
    }


def spike_document(spike: Spike) -> dict[str, Any]:
    def names(items: tuple[Contributor, ...]) -> list[dict[str, Any]]:
        return [{"name": item.name, "tokens": item.tokens} for item in items]

    return {
        "metric": spike.metric,
        "start": iso_time(spike.start),
        "end": iso_time(spike.end),
        "buckets": spike.buckets,
        "peak": in_unit_of(spike.metric, spike.peak),
        "baseline": in_unit_of(spike.metric, spike.baseline),
        "threshold": in_unit_of(spike.metric, spike.threshold),
        "ratio": fraction(spike.ratio),
        "tokens": spike.tokens,
        "top": {
            "bots": names(spike.bots),
            "models": names(spike.models),
            "conversations": names(spike.conversations),
        },
    }


def countries_document(countries: Countries) -> dict[str, Any]:
    other = _country_numbers(asdict(countries.other))
    unknown = _country_numbers(asdict(countries.unknown))
    del unknown["share"]
    return {
        "source": asdict(countries.source) if countries.source else None,
        "top": [_country_numbers(asdict(row)) for row in countries.top],
        "other": {"countries": countries.other_countries, **other},
        "unknown": {
            "messages": unknown.pop("messages"),
            "reasons": {reason: 0 for reason in REASONS} | dict(countries.unknown_reasons),
            **unknown,
        },
    }


def _country_numbers(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "share": fraction(row["share"]),
        "avg_response_ms": millis(row["avg_response_ms"]),
    }


def input_document(summary: InputSummary) -> dict[str, Any]:
    return {
        "files": summary.files,
        "records": summary.records,
        "skipped": summary.skipped,
        "skipped_by_file": dict(summary.skipped_by_file),
        "skipped_examples": list(summary.skipped_examples),
        "ignored": summary.ignored,
        "first_timestamp": iso_time(summary.first_timestamp),
        "last_timestamp": iso_time(summary.last_timestamp),
        "since": iso_time(summary.since),
        "until": iso_time(summary.until),
        "shapes": {"message": 0, "exchange": 0} | dict(summary.shapes),
        "merged": summary.merged,
        "invalid_values": dict(summary.invalid_values),
        "invalid_examples": list(summary.invalid_examples),
        "skipped_files": [
            {"file": file, "reason": reason} for file, reason in summary.skipped_files
        ],
        "preset": summary.preset,
        "preset_detected_from": summary.preset_detected_from,
    }


def iso_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, milliseconds shown only when present."""
    if value is None:
        return None
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def scalar_metrics(metrics: Metrics) -> dict[str, float | int | None]:
    """Every numeric metric by its dotted path (``errors.rate``, ``response_ms.p95``, ...)."""
    flat: dict[str, float | int | None] = {}
    for section, values in metrics_document(metrics).items():
        if section == "spikes":
            flat["spikes.count"] = len(values)
            continue
        if section == "cost":
            flat["cost.total_usd"] = values["total_usd"]
            continue
        if section == "countries":
            flat["countries.other.countries"] = values["other"]["countries"]
            flat["countries.other.messages"] = values["other"]["messages"]
            flat["countries.unknown.messages"] = values["unknown"]["messages"]
            for reason, count in values["unknown"]["reasons"].items():
                flat[f"countries.unknown.reasons.{reason}"] = count
            continue
        for name, value in values.items():
            flat[f"{section}.{name}"] = value
    return flat
