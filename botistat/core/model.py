"""The immutable result of a report: what renderers, ``check`` and ``email`` consume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True)
class Messages:
    total: int = 0
    user: int = 0
    bot_responses: int = 0
    failed: int = 0


@dataclass(frozen=True)
class ResponseTimes:
    """Milliseconds from a user's message to the bot's reply; None where there is no reply."""

    count: int = 0
    avg: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Tokens:
    """``total`` is prompt + completion (or the logged total); cache tokens are beside it."""

    prompt: int = 0
    completion: int = 0
    total: int = 0
    error: int = 0
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True)
class ModelCost:
    """What one model cost; ``source`` says where the prices came from."""

    model: str | None
    usd: float
    records: int
    source: str  # "log", "config", "genai-prices" or a mix such as "log+genai-prices"


@dataclass(frozen=True)
class UnpricedModel:
    """A model with tokens but no price (or records with no prompt/completion split)."""

    model: str | None
    records: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


@dataclass(frozen=True)
class Cost:
    """USD spent; ``partial`` when some tokens could not be priced (see ``unpriced_models``)."""

    total_usd: float = 0.0
    partial: bool = False
    by_model: tuple[ModelCost, ...] = ()
    unpriced_models: tuple[UnpricedModel, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Errors:
    """API errors on bot records; ``rate`` is None when there are no bot records."""

    transactions: int = 0
    rate: float | None = None


@dataclass(frozen=True)
class CountryRow:
    """One ranked country; ``avg_response_ms`` times the replies to its users."""

    country: str
    messages: int
    conversations: int
    share: float
    name: str | None = None
    users: int = 0
    tokens: int = 0
    avg_response_ms: float | None = None


@dataclass(frozen=True)
class CountryAggregate:
    """The "Other" row (countries past the top N) or the "Unknown" row.

    For "Other", conversations and users are summed over its countries, so one seen in two of
    them counts twice.
    """

    messages: int = 0
    conversations: int = 0
    users: int = 0
    tokens: int = 0
    avg_response_ms: float | None = None
    share: float | None = None


@dataclass(frozen=True)
class CountrySourceInfo:
    """Where countries came from (``countries.source``)."""

    name: str
    kind: str  # "mmdb": a GeoIP database; "registry": offline registry data
    version: str | None = None
    date: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Countries:
    """The top countries by messages, everything past them, and messages with no country."""

    top: tuple[CountryRow, ...] = ()
    other_countries: int = 0
    other: CountryAggregate = CountryAggregate()
    unknown: CountryAggregate = CountryAggregate()
    #: Messages without a country per reason: no_ip, private, invalid, not_found.
    unknown_reasons: tuple[tuple[str, int], ...] = ()
    source: CountrySourceInfo | None = None


@dataclass(frozen=True)
class Contributor:
    name: str
    tokens: int


@dataclass(frozen=True)
class Spike:
    """A run of time buckets where ``metric`` rose far above its rolling baseline.

    ``peak`` is the highest bucket value of the metric; ``tokens`` are all tokens used during
    the spike; the contributors are who used the most of them.
    """

    metric: str  # "tokens", "response_ms.p95" or "errors.rate"
    start: datetime
    end: datetime
    buckets: int
    peak: float
    baseline: float
    threshold: float
    ratio: float | None
    tokens: int
    bots: tuple[Contributor, ...] = ()
    models: tuple[Contributor, ...] = ()
    conversations: tuple[Contributor, ...] = ()


@dataclass(frozen=True)
class Metrics:
    messages: Messages = Messages()
    response_ms: ResponseTimes = ResponseTimes()
    tokens: Tokens = Tokens()
    errors: Errors = Errors()
    countries: Countries = Countries()
    spikes: tuple[Spike, ...] = ()
    cost: Cost = Cost()


@dataclass(frozen=True)
class TopItem:
    """A conversation, user or model, ranked by its messages' tokens.

    ``usd`` is what its messages with a cost cost (logged, or priced as in :class:`Cost`);
    ``unpriced_messages`` have tokens but no cost, so when there are any ``usd`` falls short.
    """

    name: str
    tokens: int
    messages: int
    usd: float = 0.0
    unpriced_messages: int = 0


@dataclass(frozen=True)
class TopUsage:
    """The conversations, users and models with the most tokens, over all records (not per
    group): most tokens first, ties broken by name."""

    conversations: tuple[TopItem, ...] = ()
    users: tuple[TopItem, ...] = ()
    models: tuple[TopItem, ...] = ()


@dataclass(frozen=True)
class InputSummary:
    """What was read: files, messages in range, the lines (and files) that had to be
    skipped, the records that are no messages, and the values dropped as implausible."""

    files: int = 0
    records: int = 0
    skipped: int = 0
    skipped_by_file: tuple[tuple[str, int], ...] = ()
    skipped_examples: tuple[str, ...] = ()
    ignored: int = 0
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Valid records read per shape: ("message", n), ("exchange", m).
    shapes: tuple[tuple[str, int], ...] = ()
    #: Records folded into another that shared its message id.
    merged: int = 0
    #: Implausible values dropped from their records, per "<field>: <problem>" (sorted).
    invalid_values: tuple[tuple[str, int], ...] = ()
    #: The first few, as ``file:line: <field>: <problem> (<value>)``.
    invalid_examples: tuple[str, ...] = ()
    #: Inputs that could not be read (whole, or from some point on): (file, reason).
    skipped_files: tuple[tuple[str, str], ...] = ()
    #: The preset the logs were read with, if any.
    preset: str | None = None
    #: The input it was recognised in, when it was chosen from the logs' shape.
    preset_detected_from: str | None = None
    #: Records read before any time range (messages or exchanges; not the ignored ones).
    read: int = 0
    #: The first and last time among them: set only when a time range left none of them
    #: (so that the warning can say where the records are).
    read_first: datetime | None = None
    read_last: datetime | None = None

    @property
    def invalid(self) -> int:
        return sum(count for _, count in self.invalid_values)


@dataclass(frozen=True)
class TimelinePoint:
    """One time bucket: messages, tokens, replies and API errors (for charts, and the values
    spike detection judges)."""

    start: datetime
    messages: int
    tokens: int
    replies: int = 0
    #: The bucket's p95 reply time, with at least 5 replies.
    p95_ms: float | None = None
    #: API errors per bot record, with at least 5 bot records.
    error_rate: float | None = None


@dataclass(frozen=True)
class Comparison:
    """The same metrics for the period of equal length just before the report's range."""

    input: InputSummary
    metrics: Metrics


@dataclass(frozen=True)
class Group:
    """The metrics of one ``--by`` group; ``key`` is None for records without that field."""

    key: str | None
    metrics: Metrics


@dataclass(frozen=True)
class Report:
    input: InputSummary
    metrics: Metrics
    by: str | None = None
    groups: tuple[Group, ...] = ()
    top: int = 10
    timeline: tuple[TimelinePoint, ...] = ()
    bucket_seconds: int = 3600
    #: True: the timeline holds every bucket from the first to the last, empty ones as zeros;
    #: False (a span of more than ``MAX_TIMELINE_BUCKETS``): only the buckets with records.
    timeline_dense: bool = True
    previous: Comparison | None = None
    top_usage: TopUsage = TopUsage()
