"""The canonical record: the field names and types every input is turned into."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import polars as pl

#: Canonical input fields, in the order the docs list them. Every one can be renamed in config.
FIELDS: Final = (
    "timestamp",
    "conversation_id",
    "role",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "ip",
    "country",
    "bot_id",
    "channel",
    "model",
    "user_id",
    # Exchange-shaped records (config `record: exchange`): when the answer came.
    "end_time",
    "latency_ms",
    "latency_s",
    # Token accounting: prompt caching, a cost logged by a gateway, repeated usage.
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "message_id",
)
CACHE_FIELDS: Final = ("cache_read_tokens", "cache_write_tokens")
#: Extra parts of a composite message id (``fields.message_id`` given as a list).
MESSAGE_ID_PARTS: Final = ("message_id", "message_id_2", "message_id_3")
REQUIRED_FIELDS: Final = ("timestamp", "role")
TOKEN_FIELDS: Final = ("prompt_tokens", "completion_tokens", "total_tokens")
#: Plain text fields that are passed through unchanged (stripped of surrounding blanks).
TEXT_FIELDS: Final = ("conversation_id", "ip", "bot_id", "channel", "model", "user_id")

#: The canonical columns the metrics read (a report, a watch): what a scan is asked for.
METRIC_COLUMNS: Final = (
    "timestamp",
    "conversation_id",
    "role",
    "failed",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "country",
    "ip",
    "user_id",
    "bot_id",
    "model",
    "latency_ms",
    "exchange",
    "cost",
    "cache_read_tokens",
    "cache_write_tokens",
    "message_id",
)

ROLE_USER: Final = "user"
ROLE_BOT: Final = "bot"
#: A record whose role is neither user nor bot (system, tool, ...): read, but not a message.
ROLE_OTHER: Final = "other"

#: ``--by`` keys: record fields, plus the time buckets derived from the timestamp (local to the
#: config's time zone; weeks start on Monday, as ISO weeks do).
GROUP_FIELDS: Final = ("bot_id", "channel", "model", "user_id", "country")
GROUP_TIME_BUCKETS: Final = ("day", "hour", "week", "month")
GROUP_KEYS: Final = GROUP_FIELDS + GROUP_TIME_BUCKETS


def canonical_schema() -> dict[str, pl.DataType]:
    """The schema of the canonical LazyFrame that ingestion produces.

    ``role`` is reduced to user / bot / other, ``status`` to a ``failed`` flag and ``error`` plus
    ``error_code`` to an ``error`` flag, so metrics never look at raw strings again.
    """
    import polars as pl

    schema: dict[str, pl.DataType] = {
        "timestamp": pl.Datetime("us", "UTC"),
        "role": pl.Enum([ROLE_USER, ROLE_BOT, ROLE_OTHER]),
        "failed": pl.Boolean(),
        "error": pl.Boolean(),
        "country": pl.String(),
    }
    for name in TOKEN_FIELDS:
        schema[name] = pl.Int64()
    for name in TEXT_FIELDS:
        schema[name] = pl.String()
    for name in CACHE_FIELDS:
        schema[name] = pl.Int64()
    schema["cost"] = pl.Float64()
    schema["message_id"] = pl.String()
    # Set for the bot message of an exchange-shaped record: its own response time.
    schema["latency_ms"] = pl.Float64()
    schema["exchange"] = pl.Boolean()
    return schema
