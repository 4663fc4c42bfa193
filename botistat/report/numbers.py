"""How many digits a float keeps in the JSON and CSV output: what its unit can mean.

The metrics are computed in full double precision; only the document rounds them (so a sum
of milliseconds prints as ``5510.6``, not ``5510.599999999999``). docs/metrics.md, "Numbers in
JSON and CSV", states the rule.
"""

from __future__ import annotations

import math
from typing import Final

#: Timestamps have microseconds: a millisecond figure means something to 3 decimals.
MS_DECIMALS: Final = 3
#: Prices are per 1M tokens: one token at a cent per 1M tokens is 1e-8 USD.
USD_DECIMALS: Final = 8
#: Token figures that are no counts (a median, a threshold): as milliseconds, 3 decimals.
TOKEN_DECIMALS: Final = 3
#: Rates, shares, ratios and percentages: relative precision, however small the value.
SIGNIFICANT_DIGITS: Final = 6


def millis(value: float | None) -> float | None:
    return _decimals(value, MS_DECIMALS)


def usd(value: float | None) -> float | None:
    return _decimals(value, USD_DECIMALS)


def tokens(value: float | None) -> float | None:
    return _decimals(value, TOKEN_DECIMALS)


def fraction(value: float | None) -> float | None:
    """Rates, shares, ratios, percentages: 6 significant digits (``0.0149502``)."""
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def in_unit_of(metric: str, value: float | int | None) -> float | int | None:
    """A value of the metric at dotted path ``metric`` (``response_ms.p95``, ``errors.rate``,
    ``cost.total_usd``, ``tokens``), rounded for its unit; counts stay integers."""
    if value is None or isinstance(value, int):
        return value
    if metric.endswith(("rate", "share", "ratio", "percent")):
        return fraction(value)
    if "_ms" in metric or "response_ms." in metric:
        return millis(value)
    if "usd" in metric:
        return usd(value)
    return tokens(value)


def _decimals(value: float | None, places: int) -> float | None:
    if value is None or not math.isfinite(value):
        return value
    return round(value, places)
