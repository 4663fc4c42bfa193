"""Values no log can mean: a count that is negative, absurd or no number at all, a cost or a
response time that cannot be.

Such a value is dropped from its record (read as missing, like an absent field) and counted
by its reason, ``"<field>: <problem>"``; the record itself still counts. On clean data the
check is one vectorised pass over the typed column (the rest runs only when it finds a value
out of bounds, or a value that did not read).

Bounds (see docs/metrics.md, "Plausibility"): a token count is at most 10^9 (the largest
context windows hold about 10^7), which also keeps every Int64 sum exact up to 4.6 billion
messages; a cost at most 10^6 USD; a response time at most 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from botistat.core.schema import CACHE_FIELDS, TOKEN_FIELDS

if TYPE_CHECKING:
    import polars as pl

TOKEN_CAP: Final = 10**9
COST_CAP: Final = 1e6
DAY_MS: Final = 86_400_000.0
#: How much of an offending value an example shows.
SHOWN_CHARS: Final = 40


@dataclass(frozen=True)
class Bounds:
    """What a value must be, and how each way of missing it is called."""

    cap: float
    above: str
    unreadable: str = "not a number"
    negative: str = "negative"


TOKEN_BOUNDS: Final = Bounds(TOKEN_CAP, "above 1e9")
BOUNDS: Final[dict[str, Bounds]] = {
    **dict.fromkeys((*TOKEN_FIELDS, *CACHE_FIELDS), TOKEN_BOUNDS),
    "cost": Bounds(COST_CAP, "above 1e6"),
    "latency_ms": Bounds(DAY_MS, "above 24h"),
    "latency_s": Bounds(DAY_MS / 1000, "above 24h"),
    # A response time measured as end_time - timestamp, in milliseconds.
    "end_time": Bounds(
        DAY_MS, "more than 24h after timestamp", "not a timestamp", "before timestamp"
    ),
}


def checked(
    name: str, typed: pl.Series, raw: pl.Series, *, as_number: bool = True
) -> tuple[pl.Series, pl.DataFrame | None]:
    """``typed`` (the values of ``raw`` as read: null where they did not read) with the
    implausible ones made null, and what was wrong with them: a frame of ``row``,
    ``problem`` and ``value`` (the raw text), or None when nothing was.

    With ``as_number``, a raw value that did not read is tried as a float before it is
    called unreadable (a count too large for an integer is above the cap, not "not a
    number").
    """
    bounds = BOUNDS[name]
    fine = int(typed.is_between(0, bounds.cap).sum())
    if fine == len(typed) - typed.null_count() and typed.null_count() == raw.null_count():
        return typed, None
    return _flagged(name, bounds, typed, raw, as_number=as_number)


def _flagged(
    name: str, bounds: Bounds, typed: pl.Series, raw: pl.Series, *, as_number: bool
) -> tuple[pl.Series, pl.DataFrame | None]:
    import polars as pl

    text = raw.cast(pl.String).str.strip_chars()
    value = typed.cast(pl.Float64)
    if as_number:
        value = value.fill_null(text.cast(pl.Float64, strict=False))
    number = pl.col("number")
    problem = (
        pl.when(~(pl.col("value").str.len_bytes() > 0).fill_null(False))
        .then(None)  # blank or absent: missing, nothing wrong with it
        .when(number.is_null() | number.is_nan())
        .then(pl.lit(f"{name}: {bounds.unreadable}"))
        .when(number < 0)
        .then(pl.lit(f"{name}: {bounds.negative}"))
        .when(number > bounds.cap)
        .then(pl.lit(f"{name}: {bounds.above}"))
    )
    frame = pl.DataFrame({"typed": typed, "value": text, "number": value}).with_columns(
        problem.alias("problem")
    )
    problems = (
        frame.with_row_index("row")
        .filter(pl.col("problem").is_not_null())
        .select("row", "problem", pl.col("value").str.slice(0, SHOWN_CHARS))
    )
    if problems.is_empty():
        return typed, None
    kept = frame.select(pl.when(pl.col("problem").is_null()).then(pl.col("typed")))
    return kept.to_series().alias(typed.name), problems
