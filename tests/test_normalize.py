"""Typing of the text fields (roles, statuses, errors, countries, ids) against the plain-Python
reference, value by value, over several blocks typed by one normalizer.

The normalizer types a column of few distinct values once per value and remembers the results
across blocks (``ByValue``): these tests mix such columns with ones of many values, values it
has seen typed differently before, whitespace, case, empty text and missing values.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import botistat.ingest.normalize as normalize_module
from botistat.core.config import Config
from botistat.ingest.normalize import DISTINCT_LIMIT, BlockNormalizer, ByValue
from tests.reference import (
    _clean_text,
    _parse_error_flag,
    _parse_failed,
    _parse_role,
)

COLUMNS = ["role", "failed", "error", "country", "bot_id", "model", "conversation_id"]
RAW_FIELDS = ["role", "status", "error", "error_code", "country", "bot_id", "model"]

#: Values logs write, clean and not: case, surrounding whitespace (also a no-break space),
#: empty text, words that mean "no error".
messy = st.sampled_from(
    [
        "user",
        " User",
        "assistant",
        "BOT ",
        "system",
        "delivered",
        "failed",
        " FAILED\t",
        "undelivered",
        "true",
        "false",
        " None ",
        "0",
        "rate_limit",
        "us",
        "US",
        " de ",
        "",
        "   ",
        "\u00a0x\u00a0",
        "gpt-4o",
    ]
)
maybe_messy = st.none() | messy


@st.composite
def blocks(draw: st.DrawFn) -> list[dict[str, list[str | None]]]:
    """Two to four blocks; in each, a field repeats a few values drawn from ``messy`` (and
    missing ones), or has more distinct values than the normalizer types one by one."""
    rows_of = draw(st.randoms(use_true_random=False))
    result = []
    for _ in range(draw(st.integers(2, 4))):
        rows = draw(st.integers(1, 3 * DISTINCT_LIMIT))
        block: dict[str, list[str | None]] = {}
        for name in [*RAW_FIELDS, "conversation_id"]:
            pool = draw(st.lists(maybe_messy, min_size=1, max_size=6))
            if draw(st.booleans()):  # many values: the few above, and ids
                pool += [f" id-{n}" for n in range(2 * DISTINCT_LIMIT)]
            block[name] = [rows_of.choice(pool) for _ in range(rows)]
        result.append(block)
    return result


@settings(max_examples=60, deadline=None)
@given(blocks())
def test_typed_fields_match_reference(data: list[dict[str, list[str | None]]]) -> None:
    normalize = BlockNormalizer(Config(), COLUMNS)
    for block in data:
        raw = pl.DataFrame(block, schema=dict.fromkeys(block, pl.String))
        typed = normalize(raw).to_dict(as_series=False)
        assert typed["role"] == [_parse_role(v) for v in block["role"]]
        assert typed["failed"] == [_parse_failed(v) for v in block["status"]]
        errors = zip(block["error"], block["error_code"], strict=True)
        assert typed["error"] == [_parse_error_flag(e, c) for e, c in errors]
        country = [_clean_text(v) for v in block["country"]]
        assert typed["country"] == [c.upper() if c else None for c in country]
        for name in ("bot_id", "model", "conversation_id"):
            assert typed[name] == [_clean_text(v) for v in block[name]]


def test_values_typed_before_are_not_typed_again() -> None:
    """The second block of the same values reuses what the first typed; a new value in a
    third block is typed, and the ones before still match."""
    calls: list[int] = []

    def counted(values: pl.Series) -> pl.Series:
        calls.append(len(values))
        return values.str.to_uppercase()

    typing = ByValue(pl.col("x").map_batches(counted, return_dtype=pl.String).alias("x"))
    first = pl.Series("x", ["a", "b", None, "a"])
    assert typing(first).to_list() == ["A", "B", None, "A"]
    assert typing(first.reverse()).to_list() == ["A", None, "B", "A"]
    assert calls == [3]  # a, b and the missing value, once each
    assert typing(pl.Series("x", ["c", "a"])).to_list() == ["C", "A"]
    assert calls == [3, 1]


def test_clean_column_is_returned_as_it_is() -> None:
    typing = ByValue(pl.col("x").str.strip_chars().alias("x"))
    clean = pl.Series("x", ["bot-1", "bot-2", None] * 100)
    typed = typing(clean)
    assert typed.to_list() == clean.to_list()
    dirty = pl.Series("x", [" bot-1", "bot-2", None] * 100)
    assert typing(dirty).to_list() == ["bot-1", "bot-2", None] * 100


def test_column_of_many_values_is_typed_row_by_row() -> None:
    typing = ByValue(pl.col("x").str.strip_chars().alias("x"))
    values = [f" v{i} " for i in range(3 * DISTINCT_LIMIT)]
    assert typing(pl.Series("x", values)).to_list() == [v.strip() for v in values]


def test_remembering_starts_over_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(normalize_module, "KNOWN_LIMIT", 3)
    typing = ByValue(pl.col("x").str.strip_chars().str.to_uppercase().alias("x"))
    for block in (["a", "b"], ["b ", "c"], ["a", " d", None], ["e", "a"]):
        assert typing(pl.Series("x", block)).to_list() == [
            v.strip().upper() if v is not None else None for v in block
        ]
