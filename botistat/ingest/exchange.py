"""Exchange-shaped records: one record per request/response, turned into two messages.

An exchange becomes a user message at its start time and a bot message when the answer came
(start + response time). A failed exchange (its status is a failure word, or it carries an API
error) becomes the user message and one failed bot message: no bot response, no response
time, and it counts as an API error. The bot message carries the tokens, the model and the
response time measured by the record itself (``end - start``, else ``latency_ms``, else
``latency_s``), which replaces the pairing of messages used for message-shaped logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.core.schema import CACHE_FIELDS, ROLE_BOT, ROLE_USER, TOKEN_FIELDS
from botistat.ingest.timestamps import parse_timestamp_series

if TYPE_CHECKING:
    import polars as pl

#: Raw fields an exchange's response time may come from, in order of preference.
LATENCY_FIELDS: Final = ("end_time", "latency_ms", "latency_s")
#: What an exchange spent: carried by its bot message alone, so it is counted once.
USAGE_COLUMNS: Final = (*TOKEN_FIELDS, *CACHE_FIELDS, "cost")
#: Appended to an exchange's message id for its user message (the parts of a composite id
#: are joined by \x1f).
QUERY_ID_SUFFIX: Final = "\x1equery"


def latency_ms(raw: pl.DataFrame, start: pl.Series, timezone: str) -> pl.Series:
    """Milliseconds from an exchange's start to its answer; null when the record has none."""
    import polars as pl

    end = parse_timestamp_series(raw.get_column("end_time"), timezone)
    from_end = (end - start).dt.total_microseconds() / 1000.0
    as_number = raw.select(
        pl.col("latency_ms").str.strip_chars().cast(pl.Float64, strict=False),
        pl.col("latency_s").str.strip_chars().cast(pl.Float64, strict=False) * 1000.0,
    )
    return (
        pl.DataFrame({"a": from_end, "b": as_number.to_series(0), "c": as_number.to_series(1)})
        .select(pl.coalesce("a", "b", "c"))
        .to_series()
        .alias("latency_ms")
    )


def expand_exchanges(frame: pl.DataFrame) -> pl.DataFrame:
    """Two canonical messages per exchange: the user's query and the bot's answer."""
    import polars as pl

    failed = pl.col("failed") | pl.col("error")
    role_type = frame.schema["role"]
    user = frame.with_columns(
        pl.lit(ROLE_USER, role_type).alias("role"),
        pl.lit(False).alias("failed"),
        pl.lit(False).alias("error"),
        *(
            pl.lit(None, frame.schema[name]).alias(name)
            for name in USAGE_COLUMNS
            if name in frame.columns
        ),
        pl.lit(None, pl.Float64).alias("latency_ms"),
        # Its own id, else merging repeated usage would fold the query into its answer.
        *((pl.col("message_id") + QUERY_ID_SUFFIX,) if "message_id" in frame.columns else ()),
    )
    answered = ~failed & pl.col("latency_ms").is_not_null()
    bot = frame.with_columns(
        pl.lit(ROLE_BOT, role_type).alias("role"),
        pl.when(answered)
        .then(pl.col("timestamp") + pl.duration(microseconds=(pl.col("latency_ms") * 1000).round()))
        .otherwise(pl.col("timestamp"))
        .alias("timestamp"),
        failed.alias("failed"),
        failed.alias("error"),
        pl.when(answered).then(pl.col("latency_ms")).otherwise(None).alias("latency_ms"),
    )
    return pl.concat([user, bot.select(user.columns)], how="vertical")
