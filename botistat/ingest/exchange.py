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
from botistat.ingest.plausible import checked
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


def latency_ms(
    raw: pl.DataFrame, start: pl.Series, timezone: str
) -> tuple[pl.Series, pl.DataFrame | None]:
    """Milliseconds from an exchange's start to its answer (null when the record has none),
    and the implausible response times dropped on the way (see
    :mod:`botistat.ingest.plausible`): one that is not plausible is missing, and the next
    source in order of preference is used."""
    import polars as pl

    end = parse_timestamp_series(raw.get_column("end_time"), timezone)
    from_end = (end - start).dt.total_microseconds() / 1000.0
    found: list[pl.DataFrame] = []
    sources: list[pl.Series] = []
    for name, typed, scale in (
        ("end_time", from_end, 1.0),
        ("latency_ms", _number(raw.get_column("latency_ms")), 1.0),
        ("latency_s", _number(raw.get_column("latency_s")), 1000.0),
    ):
        column = raw.get_column(name)
        # An end_time that reads but has no start to be measured from is not its fault.
        if name == "end_time":
            column = column.zip_with(start.is_not_null(), pl.Series([None], dtype=pl.String))
        value, problems = checked(name, typed, column, as_number=name != "end_time")
        if problems is not None:
            found.append(problems)
        sources.append(value * scale)
    frame = pl.DataFrame({str(i): source for i, source in enumerate(sources)})
    latency = frame.select(pl.coalesce(frame.columns)).to_series().alias("latency_ms")
    return latency, pl.concat(found) if found else None


def _number(raw: pl.Series) -> pl.Series:
    import polars as pl

    return raw.str.strip_chars().cast(pl.Float64, strict=False)


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
