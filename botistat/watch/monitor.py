"""The state behind ``botistat watch``: rolling time buckets, open conversations, alerts.

Batches of canonical records (parsed by the report's own ingestion) are folded into time
buckets with Polars; the spike detector of :mod:`botistat.spikes.detector` then judges the
open bucket against the closed ones before it. Only the window of buckets and the last message
of each recently active conversation are kept, so memory stays flat however long it runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from botistat.core.pricing import PriceBook, record_cost
from botistat.core.schema import ROLE_BOT, ROLE_OTHER, ROLE_USER
from botistat.metrics.buckets import CONTRIBUTOR_FIELDS
from botistat.metrics.volume import record_tokens
from botistat.spikes.detector import Baseline, DetectorSettings, baseline
from botistat.spikes.series import ERROR_RATE_FLOOR, MIN_BOT_RECORDS, MIN_REPLIES

if TYPE_CHECKING:
    import polars as pl

METRICS: Final = ("tokens", "cost.usd", "response_ms.p95", "errors.rate")
LABELS: Final = {
    "tokens": "token",
    "cost.usd": "cost",
    "response_ms.p95": "reply time (p95)",
    "errors.rate": "error",
}
TOP: Final = 5
#: Columns of the canonical records the monitor reads.
COLUMNS: Final = [
    "timestamp",
    "role",
    "failed",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "conversation_id",
    "bot_id",
    "model",
    "latency_ms",
    "exchange",
    "cost",
    "cache_read_tokens",
    "cache_write_tokens",
]


@dataclass
class _Bucket:
    tokens: float = 0.0
    cost: float = 0.0
    bot_records: int = 0
    errors: int = 0
    replies: list[float] = field(default_factory=list)
    contributors: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in CONTRIBUTOR_FIELDS}
    )

    def value(self, metric: str) -> float | None:
        if metric == "tokens":
            return self.tokens
        if metric == "cost.usd":
            return self.cost
        if metric == "errors.rate":
            return self.errors / self.bot_records if self.bot_records >= MIN_BOT_RECORDS else None
        if len(self.replies) < MIN_REPLIES:
            return None
        return _percentile(sorted(self.replies), 0.95)

    def top(self) -> dict[str, list[dict[str, Any]]]:
        keys = {"bot_id": "bots", "model": "models", "conversation_id": "conversations"}
        return {
            keys[name]: [{"name": n, "tokens": int(t)} for n, t in counter.most_common(TOP)]
            for name, counter in self.contributors.items()
        }


@dataclass(frozen=True)
class WatchEvent:
    """A spike starting or ending; ``document()`` is what sinks send."""

    kind: Literal["spike", "resolved"]
    metric: str
    bucket_start: datetime
    bucket_end: datetime
    value: float | None
    baseline: float | None
    threshold: float | None
    ratio: float | None
    top: dict[str, list[dict[str, Any]]]
    started: datetime | None = None
    peak: float | None = None

    def document(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "metric": self.metric,
            "bucket_start": _iso(self.bucket_start),
            "bucket_end": _iso(self.bucket_end),
            "value": self.value,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "ratio": self.ratio,
            "started": _iso(self.started) if self.started else None,
            "peak": self.peak,
            "top": self.top,
            "text": self.text(),
        }

    def text(self) -> str:
        """One line for chat tools (Slack reads the ``text`` field)."""
        label = LABELS.get(self.metric, self.metric)
        if self.kind == "resolved":
            since = self.started.strftime("%H:%M") if self.started else "?"
            peak = _show(self.metric, self.peak)
            return f"botistat: {label} spike since {since} UTC is over (peak {peak})"
        ratio = (
            f", {self.ratio:.1f}x the median {_show(self.metric, self.baseline)}"
            if self.ratio
            else ""
        )
        who = self.top.get("conversations") or self.top.get("bots") or []
        culprit = f"; top: {who[0]['name']}" if who else ""
        return (
            f"botistat: {label} spike at {self.bucket_start:%H:%M} UTC: "
            f"{_show(self.metric, self.value)}{ratio}{culprit}"
        )


@dataclass
class _Active:
    started: datetime
    peak: float
    calm: int = 0


@dataclass
class MonitorSettings:
    bucket_seconds: int = 300
    window: int = 24
    sensitivity: float = 5.0
    min_ratio: float = 2.0
    min_tokens: float = 5000.0
    min_cost: float = 1.0
    cooldown: int = 2

    def detector(self, metric: str) -> DetectorSettings:
        floors = {
            "tokens": self.min_tokens,
            "cost.usd": self.min_cost,
            "errors.rate": ERROR_RATE_FLOOR,
        }
        floor = floors.get(metric, 0.0)
        return DetectorSettings(
            window=self.window, sensitivity=self.sensitivity, min_ratio=self.min_ratio, floor=floor
        )


class LiveMonitor:
    """Fold record batches into buckets; :meth:`check` returns the alerts due now."""

    def __init__(self, settings: MonitorSettings, prices: PriceBook | None = None) -> None:
        self.settings = settings
        self._prices = prices or PriceBook()
        self._buckets: dict[int, _Bucket] = {}
        self._last: dict[str, tuple[datetime, str]] = {}
        self._open: int | None = None
        self._active: dict[str, _Active] = {}
        self._latest: datetime | None = None
        #: The first bucket with data: earlier buckets are unknown, not empty (warm-up).
        self._first: int | None = None
        self.records = 0
        self.late = 0

    # -- folding records in -------------------------------------------------------------
    def add(self, frame: pl.DataFrame) -> None:
        """Fold a batch of canonical records (any order, any size) into the buckets."""
        import polars as pl

        if frame.is_empty():
            return
        seconds = self.settings.bucket_seconds
        messages = frame.filter(pl.col("role") != ROLE_OTHER).with_columns(
            (pl.col("timestamp").dt.epoch("s") // seconds).alias("bucket"),
            record_tokens().alias("tokens"),
        )
        models = messages.select(pl.col("model").unique().drop_nulls())
        rates = models.with_columns(self._prices.rates(models.get_column("model")))
        messages = messages.join(rates, on="model", how="left").with_columns(
            pl.coalesce(pl.col("cost"), record_cost()).fill_null(0.0).alias("usd")
        )
        self.records += messages.height
        latest = frame["timestamp"].max()
        if isinstance(latest, datetime) and (self._latest is None or latest > self._latest):
            self._latest = latest
        oldest = self._oldest_kept()
        is_bot = pl.col("role") == ROLE_BOT
        totals = messages.group_by("bucket").agg(
            pl.col("tokens").sum(),
            pl.col("usd").sum(),
            is_bot.sum().alias("bots"),
            (is_bot & pl.col("error")).sum().alias("errors"),
        )
        first = totals["bucket"].min()
        if isinstance(first, int) and (self._first is None or first < self._first):
            self._first = first
        for bucket_id, tokens, usd, bots, errors in totals.iter_rows():
            if oldest is not None and bucket_id < oldest:
                self.late += 1
                continue
            bucket = self._buckets.setdefault(bucket_id, _Bucket())
            bucket.tokens += tokens or 0
            bucket.cost += usd or 0.0
            bucket.bot_records += bots
            bucket.errors += errors
        for name in CONTRIBUTOR_FIELDS:
            sums = (
                messages.filter(pl.col(name).is_not_null() & (pl.col("tokens") > 0))
                .group_by("bucket", name)
                .agg(pl.col("tokens").sum())
            )
            for bucket_id, key, tokens in sums.iter_rows():
                if bucket_id in self._buckets:
                    self._buckets[bucket_id].contributors[name][str(key)] += tokens
        self._add_replies(frame)

    def _add_replies(self, frame: pl.DataFrame) -> None:
        """Pair replies, including the first reply of a batch with a user message before it."""
        import polars as pl

        seconds = self.settings.bucket_seconds
        # Exchange-shaped records carry their own response time.
        measured = frame.filter(pl.col("exchange") & pl.col("latency_ms").is_not_null())
        for at, latency in measured.select("timestamp", "latency_ms").iter_rows():
            bucket = self._buckets.get(int(at.timestamp()) // seconds)
            if bucket is not None:
                bucket.replies.append(latency)
        role = pl.col("role")
        turns = frame.filter(
            ~pl.col("exchange")
            & pl.col("conversation_id").is_not_null()
            & ((role == ROLE_USER) | ((role == ROLE_BOT) & ~pl.col("failed")))
        ).select("conversation_id", "timestamp", pl.col("role").cast(pl.String))
        if turns.is_empty():
            return
        known = [
            (conversation, *self._last[conversation])
            for conversation in turns["conversation_id"].unique().to_list()
            if conversation in self._last
        ]
        earlier = pl.DataFrame(known, schema=turns.schema, orient="row")
        ordered = pl.concat([earlier, turns]).sort(
            "conversation_id", "timestamp", maintain_order=True
        )
        conversation = pl.col("conversation_id")
        is_reply = (
            (role == ROLE_BOT)
            & (role.shift(1) == ROLE_USER)
            & (conversation.shift(1) == conversation)
        )
        pairs = ordered.with_columns(
            (pl.col("timestamp") - pl.col("timestamp").shift(1)).alias("elapsed"),
            is_reply.alias("reply"),
        ).filter(pl.col("reply"))
        for at, elapsed in pairs.select("timestamp", "elapsed").iter_rows():
            bucket = self._buckets.get(int(at.timestamp()) // seconds)
            if bucket is not None:
                bucket.replies.append(elapsed.total_seconds() * 1000)
        last = ordered.group_by("conversation_id", maintain_order=True).last()
        for conversation_id, at, kind in last.iter_rows():
            self._last[conversation_id] = (at, kind)
        self._forget_idle_conversations()

    def _forget_idle_conversations(self) -> None:
        if self._latest is None or len(self._last) < 10_000:
            return
        horizon = self._latest - self.history_span()
        self._last = {k: v for k, v in self._last.items() if v[0] >= horizon}

    # -- judging ------------------------------------------------------------------------
    def check(self, now: datetime) -> list[WatchEvent]:
        """Alerts due now: a spike as soon as the open bucket crosses its threshold, and a
        resolution once ``cooldown`` closed buckets in a row stayed under theirs."""
        seconds = self.settings.bucket_seconds
        # The open bucket is the one the clock is in, never that of the latest record: one
        # record dated 2062 or 9999 carried it there, every later record was then "late", and
        # the loop below ran over each bucket in between. A record ahead of the clock (the
        # watcher keeps those a few minutes ahead: clock skew) waits in its bucket till then.
        open_id = int(now.timestamp()) // seconds
        events: list[WatchEvent] = []
        if self._open is not None and open_id > self._open:
            for closed in range(self._open, open_id):
                events += self._close(closed)
        self._open = open_id
        self._prune(open_id)
        for metric in METRICS:
            value = self._value(open_id, metric)
            level = self._baseline(open_id, metric)
            if value is None or level is None or value <= level.threshold:
                continue
            active = self._active.get(metric)
            if active is None:
                start = self._start(open_id)
                self._active[metric] = _Active(started=start, peak=value)
                events.append(self._event("spike", metric, open_id, value, level))
            else:
                active.peak = max(active.peak, value)
                active.calm = 0
        return events

    def _close(self, bucket_id: int) -> list[WatchEvent]:
        events = []
        for metric in METRICS:
            if metric in self._active:
                continue
            # A bucket can close before its data is folded in (a slow batch, a short bucket):
            # judge it now, so its spike is still reported.
            value = self._value(bucket_id, metric)
            level = self._baseline(bucket_id, metric)
            if value is not None and level is not None and value > level.threshold:
                self._active[metric] = _Active(started=self._start(bucket_id), peak=value)
                events.append(self._event("spike", metric, bucket_id, value, level))
        for metric, active in list(self._active.items()):
            value = self._value(bucket_id, metric)
            level = self._baseline(bucket_id, metric)
            if value is not None and level is not None and value > level.threshold:
                active.calm = 0
                active.peak = max(active.peak, value)
                continue
            active.calm += 1
            if active.calm >= self.settings.cooldown:
                del self._active[metric]
                event = self._event("resolved", metric, bucket_id, value, level)
                events.append(
                    WatchEvent(**{**event.__dict__, "started": active.started, "peak": active.peak})
                )
        return events

    def _event(
        self,
        kind: Literal["spike", "resolved"],
        metric: str,
        bucket_id: int,
        value: float | None,
        level: Baseline | None,
    ) -> WatchEvent:
        bucket = self._buckets.get(bucket_id, _Bucket())
        return WatchEvent(
            kind=kind,
            metric=metric,
            bucket_start=self._start(bucket_id),
            bucket_end=self._start(bucket_id + 1),
            value=value,
            baseline=level.median if level else None,
            threshold=level.threshold if level else None,
            ratio=level.ratio(value) if level and value is not None else None,
            top=bucket.top(),
        )

    def _value(self, bucket_id: int, metric: str) -> float | None:
        bucket = self._buckets.get(bucket_id)
        if bucket is None:
            return 0.0 if metric == "tokens" else None
        return bucket.value(metric)

    def _baseline(self, bucket_id: int, metric: str) -> Baseline | None:
        window = self.settings.window
        since = bucket_id - window if self._first is None else max(bucket_id - window, self._first)
        history = [self._value(i, metric) for i in range(since, bucket_id)]
        known = [value for value in history if value is not None]
        return baseline(known, self.settings.detector(metric))

    def _start(self, bucket_id: int) -> datetime:
        return datetime.fromtimestamp(bucket_id * self.settings.bucket_seconds, UTC)

    def _oldest_kept(self) -> int | None:
        return None if self._open is None else self._open - self.settings.window

    def _prune(self, open_id: int) -> None:
        oldest = open_id - self.settings.window
        for bucket_id in [b for b in self._buckets if b < oldest]:
            del self._buckets[bucket_id]

    def history_span(self) -> timedelta:
        """How far back the window of buckets and a pending reply reach."""
        return timedelta(seconds=self.settings.bucket_seconds * (self.settings.window + 1))

    # -- for the live view ----------------------------------------------------------------
    def series(self, metric: str = "tokens") -> list[float | None]:
        """The metric over the window and the open bucket, oldest first."""
        if self._open is None:
            return []
        return [
            self._value(i, metric) for i in range(self._open - self.settings.window, self._open + 1)
        ]

    def current(self, metric: str = "tokens") -> tuple[float | None, Baseline | None]:
        if self._open is None:
            return None, None
        return self._value(self._open, metric), self._baseline(self._open, metric)

    @property
    def conversations(self) -> int:
        return len(self._last)


def _percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks, as in the report."""
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _show(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "errors.rate":
        return f"{value * 100:.1f}%"
    if metric.startswith("response_ms"):
        return f"{value:,.0f} ms"
    if metric == "cost.usd":
        return f"${value:,.2f}"
    return f"{value:,.0f} tokens"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
