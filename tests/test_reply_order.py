"""The fast paths of reply times must give what the plain ones give.

Reply pairing takes a fast order (a stable sort on the conversation hash) only when it is the
exact one; otherwise it sorts by hash, id and time. The overall percentiles are read off one
sort of all reply times instead of a sort per percentile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from botistat.core.schema import canonical_schema
from botistat.metrics.response import (
    CONVERSATION_HASH,
    EXACT_ORDER,
    conversation_turns,
    in_conversation_order,
    paired_replies,
    response_summary,
    response_times,
    sorted_response_times,
    with_percentiles,
)

START = datetime(2026, 11, 20, tzinfo=UTC)


def records(rows: list[tuple[str, int, str, bool]]) -> pl.LazyFrame:
    """Canonical records from (conversation, second, role, failed)."""
    schema = canonical_schema()
    return pl.DataFrame(
        {
            "conversation_id": [conversation for conversation, _, _, _ in rows],
            "timestamp": [START + timedelta(seconds=second) for _, second, _, _ in rows],
            "role": [role for _, _, role, _ in rows],
            "failed": [failed for _, _, _, failed in rows],
            "exchange": [False] * len(rows),
            "latency_ms": [None] * len(rows),
            "country": ["DE"] * len(rows),
        },
        schema={
            name: schema[name]
            for name in (
                "conversation_id",
                "timestamp",
                "role",
                "failed",
                "exchange",
                "latency_ms",
                "country",
            )
        },
    ).lazy()


rows = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3"]),
        st.integers(0, 20),
        st.sampled_from(["user", "bot", "other"]),
        st.booleans(),
    ),
    max_size=40,
)


@given(rows, st.booleans())
def test_the_fast_order_is_taken_only_when_it_is_the_exact_order(
    given_rows: list[tuple[str, int, str, bool]], in_time_order: bool
) -> None:
    if in_time_order:  # as most logs are written: then the fast order is the exact one
        given_rows = sorted(given_rows, key=lambda row: row[1])
    frame = records(given_rows)
    turns = conversation_turns(frame, []).collect()
    exact = turns.sort(list(EXACT_ORDER), maintain_order=True)
    assert in_conversation_order(turns).equals(exact)
    ordered = in_conversation_order(turns).lazy()
    # The replies as the plain form pairs them (which always sorts exactly).
    assert paired_replies(ordered, []).collect().equals(response_times(frame, []).collect())


def test_two_ids_with_one_hash_are_kept_apart() -> None:
    # Both conversations in time order, interleaved: only the ids tell them apart.
    turns = pl.DataFrame(
        {
            "conversation_id": ["a", "b", "a", "b"],
            "timestamp": [START + timedelta(seconds=s) for s in (0, 1, 2, 3)],
            "role": ["user", "user", "bot", "bot"],
            "country": ["DE", "FR", None, None],
            CONVERSATION_HASH: [7, 7, 7, 7],
        },
        schema_overrides={"role": canonical_schema()["role"], CONVERSATION_HASH: pl.UInt64},
    )
    ordered = in_conversation_order(turns)
    assert ordered["conversation_id"].to_list() == ["a", "a", "b", "b"]
    replies = paired_replies(ordered.lazy(), []).collect()
    assert replies["response_ms"].to_list() == [2000.0, 2000.0]
    assert replies["user_country"].cast(pl.String).to_list() == ["DE", "FR"]


@given(st.lists(st.floats(0, 1e7, allow_nan=False), max_size=60))
def test_percentiles_read_off_the_sorted_times_are_polars_own(times: list[float]) -> None:
    replies = pl.DataFrame({"response_ms": times}, schema={"response_ms": pl.Float64}).lazy()
    summary = response_summary(replies, [], percentiles=False).collect()
    ordered = sorted_response_times(replies).collect().to_series()
    assert with_percentiles(summary, ordered).equals(response_summary(replies, []).collect())
