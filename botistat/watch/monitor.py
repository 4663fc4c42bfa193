"""The state behind ``botistat watch``: the metric core's bucket partials, folded in as records
arrive, and the spike detector judging each bucket.

Every number comes from :mod:`botistat.metrics` and :mod:`botistat.spikes`, exactly as in a
report: each batch of canonical records becomes partials (bucket volume, cost, contributors,
replies) that are merged into the partials of the buckets still open; replies pair across
batches through the carried last turn of each conversation; records sharing a message id are
merged as the report merges them. When a bucket closes, its values are read off its partials
(:func:`~botistat.spikes.series.bucket_values`), judged against the history of the series
(:class:`~botistat.spikes.detector.History`, the report's own) and pushed onto it; then its
partials are dropped. Memory is bounded by the open buckets, the recent closed values and the
recently active conversations, however long it runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from botistat.core.pricing import PriceBook
from botistat.core.schema import METRIC_COLUMNS, ROLE_OTHER, canonical_schema
from botistat.metrics.buckets import (
    BUCKET,
    CONTRIBUTOR_FIELDS,
    bucket_contributors,
    bucket_end,
    bucket_expr,
    bucket_volume,
    merge_bucket_volume,
    merge_contributors,
)
from botistat.metrics.cost import cost_by_model, merge_cost, model_rates
from botistat.metrics.merge import MESSAGE_KEY, merge_repeated
from botistat.metrics.reply_series import reply_p95
from botistat.metrics.response import conversation_turns, direct_replies, replies_after
from botistat.spikes.detector import Baseline, DetectorSettings, History
from botistat.spikes.series import (
    COST,
    ERROR_RATE,
    P95,
    TOKENS,
    WATCH_SERIES,
    BucketValues,
    bucket_values,
    detector_settings,
    series_value,
    top_contributors,
)

if TYPE_CHECKING:
    import polars as pl
    from polars._typing import JoinStrategy

METRICS: Final = WATCH_SERIES
LABELS: Final = {TOKENS: "token", COST: "cost", P95: "reply time (p95)", ERROR_RATE: "error"}
#: Columns of the canonical records the monitor reads: those every metric reads.
COLUMNS: Final = list(METRIC_COLUMNS)
#: Open conversations remembered before idle ones are forgotten.
MAX_CONVERSATIONS: Final = 10_000
#: A gap of more empty buckets than this closes only the first ``window + cooldown`` of them
#: (all that can change a judgement) and reports the rest as skipped, as the report's
#: timeline does: a far-future record or a suspended laptop must not cost a loop per bucket.
MAX_GAP_BUCKETS: Final = 10_000


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
            "bucket_start": iso(self.bucket_start),
            "bucket_end": iso(self.bucket_end),
            "value": self.value,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "ratio": self.ratio,
            "started": iso(self.started) if self.started else None,
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


def bucket_document(bucket: BucketValues, seconds: int) -> dict[str, Any]:
    """A closed bucket as a ``watch --replay --format jsonl`` line."""
    return {
        "event": "bucket",
        "bucket_start": iso(bucket.start),
        "bucket_end": iso(bucket_end(bucket.start, seconds)),
        "messages": bucket.messages,
        "tokens": bucket.tokens,
        "replies": bucket.replies,
        "p95_ms": bucket.p95_ms,
        "error_rate": bucket.error_rate,
        "cost_usd": bucket.usd,
    }


@dataclass(frozen=True)
class Held:
    """Rows the monitor holds: bucket partials not yet closed, open conversations' carried
    turns, and recent merged messages."""

    buckets: int
    replies: int
    contributors: int
    conversations: int
    messages: int


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
    #: Fold records that share a message id into one (when the config maps the id).
    merge_messages: bool = False

    def detector(self, metric: str) -> DetectorSettings:
        return detector_settings(metric, self, self.min_cost)


@dataclass
class _Partials:
    """The merged partials of the buckets not yet closed (one frame per family)."""

    volume: pl.DataFrame
    cost: pl.DataFrame
    contributors: pl.DataFrame
    replies: pl.DataFrame

    def where(self, keep: pl.Expr, replies: pl.Expr) -> _Partials:
        return _Partials(
            self.volume.filter(keep),
            self.cost.filter(keep),
            self.contributors.filter(keep),
            self.replies.filter(replies),
        )


class LiveMonitor:
    """Fold record batches into bucket partials; :meth:`check` returns the alerts due now."""

    def __init__(self, settings: MonitorSettings, prices: PriceBook | None = None) -> None:
        self.settings = settings
        self._prices = prices or PriceBook()
        self._partials: _Partials | None = None
        self._carry: pl.DataFrame | None = None
        #: Merged records of each message id seen lately (see :meth:`_merge_messages`).
        self._messages: pl.DataFrame | None = None
        self._histories = {metric: History(settings.detector(metric)) for metric in METRICS}
        self._active: dict[str, _Active] = {}
        #: The open bucket (its index since the epoch): the one the clock is in.
        self._open: int | None = None
        #: The first bucket with data: earlier buckets are unknown, not empty (warm-up).
        self._first: int | None = None
        #: The next bucket to close (None before any data): buckets before it have been judged
        #: and pushed onto the histories; a record of one of them comes too late.
        self._next: int | None = None
        self._latest: datetime | None = None
        self._recent: deque[BucketValues] = deque(maxlen=max(settings.window, 1))
        self._closed: list[BucketValues] = []
        self.records = 0
        self.late = 0
        self.skipped_buckets = 0

    # -- folding records in -------------------------------------------------------------
    def add(self, frame: pl.DataFrame) -> None:
        """Fold a batch of canonical records (``COLUMNS``) into the open buckets' partials."""
        import polars as pl

        # Records whose role is no message (system, tool) count in no metric.
        frame = frame.filter(pl.col("role") != ROLE_OTHER)
        if frame.is_empty():
            return
        schema = canonical_schema()
        missing = [name for name in COLUMNS if name not in frame.columns]
        frame = frame.with_columns(pl.lit(None, schema[name]).alias(name) for name in missing)
        seconds = self.settings.bucket_seconds
        if self._next is not None:
            # A closed bucket has been judged and dropped: its records come too late. (Records
            # of buckets not yet closed are taken, however old: the history a file holds when
            # it appears.)
            unjudged = _start(self._next, seconds)
            late = frame.filter(pl.col("timestamp") < unjudged)
            if not late.is_empty():
                self.late += late.height
                frame = frame.filter(pl.col("timestamp") >= unjudged)
                if frame.is_empty():
                    return
        earliest, latest = frame["timestamp"].min(), frame["timestamp"].max()
        if isinstance(latest, datetime) and (self._latest is None or latest > self._latest):
            self._latest = latest
        first = _index(earliest, seconds)
        if first is not None and (self._first is None or first < self._first):
            self._first = first
        if first is not None and self._next is None:
            self._next = first
        retracted = None
        if self.settings.merge_messages:
            frame, retracted = self._merge_messages(frame)
        self.records += frame.height
        pieces = [self._partials_of(frame, turns=True)]
        if retracted is not None:
            old, new = retracted
            pieces += [_negated(self._partials_of(old, turns=False)), self._partials_of(new)]
        self._partials = _merged([p for p in (self._partials, *pieces) if p is not None])
        self._forget_idle_conversations()

    def _partials_of(self, frame: pl.DataFrame, *, turns: bool = False) -> _Partials:
        """The metric core's partials of a batch; with ``turns``, its replies too (paired
        with the turns carried over from earlier batches)."""
        import polars as pl

        seconds = self.settings.bucket_seconds
        records = frame.lazy().with_columns(bucket_expr(seconds))
        contributors = pl.concat(
            bucket_contributors(records, [], seconds, name, whole=False)
            for name in CONTRIBUTOR_FIELDS
        )
        queries = [
            bucket_volume(records, [], seconds),
            cost_by_model(records, [BUCKET], model_rates(records, self._prices)),
            contributors,
            direct_replies(records, []),
            conversation_turns(records, []),
        ]
        volume, cost, shares, direct, pending = pl.collect_all(queries)
        replies = direct.select("reply_at", "response_ms")
        if turns:
            carry = self._carry if self._carry is not None else pending.clear()
            paired, self._carry = replies_after(carry, pending, [])
            replies = pl.concat([replies, paired.select("reply_at", "response_ms")])
        return _Partials(volume, cost, shares, replies.clear() if not turns else replies)

    def _merge_messages(
        self, frame: pl.DataFrame
    ) -> tuple[pl.DataFrame, tuple[pl.DataFrame, pl.DataFrame] | None]:
        """Records sharing a conversation and message id are one message, as in a report: the
        batch's records of a new message are merged among themselves; those of a message seen
        before replace its earlier merged record (returned as (old, new) to retract and
        add)."""
        import polars as pl

        ids = pl.col("message_id")
        merged = merge_repeated(frame.filter(ids.is_not_null()).lazy()).collect()
        plain = frame.filter(ids.is_null())
        known = self._messages
        if known is None or known.is_empty():
            self._messages = merged
            return pl.concat([plain, merged]), None
        key = list(MESSAGE_KEY)
        ids_known = known.select(key)

        def among(frame: pl.DataFrame, ids: pl.DataFrame, how: JoinStrategy) -> pl.DataFrame:
            return frame.join(ids, on=key, how=how, nulls_equal=True)

        seen = among(merged, ids_known, "semi")
        fresh = among(merged, ids_known, "anti")
        old = among(known, seen.select(key), "semi")
        new = merge_repeated(pl.concat([old, seen]).lazy()).collect()
        rest = among(known, seen.select(key), "anti")
        self._messages = pl.concat([rest, new, fresh])
        retracted = (old, new) if not old.is_empty() else None
        return pl.concat([plain, fresh]), retracted

    def _forget_idle_conversations(self) -> None:
        import polars as pl

        if self._latest is None:
            return
        try:
            horizon = self._latest - self.history_span()
        except OverflowError:  # records of year 1
            return
        if self._carry is not None and self._carry.height > MAX_CONVERSATIONS:
            self._carry = self._carry.filter(pl.col("timestamp") >= horizon)
        if self._messages is not None and self._messages.height > MAX_CONVERSATIONS:
            self._messages = self._messages.filter(pl.col("timestamp") >= horizon)

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
        # Buckets before the first with data are unknown, not empty: never closed.
        if self._next is not None and open_id > self._next:
            for closed in self._closing(self._next, open_id):
                events += self._close(closed)
            self._next = open_id
        self._open = open_id
        current = self._bucket(open_id)
        for metric in METRICS:
            value = series_value(metric, current)
            level = self._histories[metric].level()
            if value is None or level is None or value <= level.threshold:
                continue
            active = self._active.get(metric)
            if active is None:
                self._active[metric] = _Active(started=current.start, peak=value)
                events.append(self._event("spike", metric, open_id, value, level))
            else:
                active.peak = max(active.peak, value)
                active.calm = 0
        return events

    def finish(self) -> list[WatchEvent]:
        """Close every bucket with data, the open one included (the end of a replay)."""
        if self._next is None or self._latest is None:
            return []
        last = int(self._latest.timestamp()) // self.settings.bucket_seconds
        if self._open is not None:
            last = max(last, self._open)
        events = []
        for closed in self._closing(self._next, last + 1):
            events += self._close(closed)
        self._next = self._open = last + 1
        return events

    def _closing(self, first: int, open_id: int) -> list[int]:
        """The buckets to close, in order: every one, unless the gap is absurd (see
        ``MAX_GAP_BUCKETS``)."""
        if open_id - first <= MAX_GAP_BUCKETS:
            return list(range(first, open_id))
        # Past window + cooldown empty buckets, the history is all empty buckets and every
        # spike is resolved: the rest change nothing.
        keep = self.settings.window + self.settings.cooldown + 1
        self.skipped_buckets += open_id - first - keep
        return list(range(first, first + keep))

    def _close(self, bucket_id: int) -> list[WatchEvent]:
        """Judge a bucket that has closed, push it onto the histories, drop its partials."""
        import polars as pl

        bucket = self._bucket(bucket_id)
        events = []
        for metric in METRICS:
            value = series_value(metric, bucket)
            history = self._histories[metric]
            level = history.level()
            over = value is not None and level is not None and value > level.threshold
            active = self._active.get(metric)
            if active is None and over:
                # A bucket can close before its data is judged live (a slow batch, a short
                # bucket): judged now, its spike is still reported.
                assert value is not None and level is not None
                self._active[metric] = _Active(started=bucket.start, peak=value)
                events.append(self._event("spike", metric, bucket_id, value, level))
            elif active is not None and over:
                assert value is not None
                active.calm = 0
                active.peak = max(active.peak, value)
            elif active is not None:
                active.calm += 1
                if active.calm >= self.settings.cooldown:
                    del self._active[metric]
                    event = self._event("resolved", metric, bucket_id, value, level)
                    events.append(replace(event, started=active.started, peak=active.peak))
            history.push(value)
        self._recent.append(bucket)
        self._closed.append(bucket)
        if self._partials is not None:
            end = _end(bucket_id, self.settings.bucket_seconds)
            self._partials = self._partials.where(pl.col(BUCKET) >= end, pl.col("reply_at") >= end)
        return events

    def _bucket(self, bucket_id: int) -> BucketValues:
        """The values of one bucket, read off its partials."""
        import polars as pl

        seconds = self.settings.bucket_seconds
        start = _start(bucket_id, seconds)
        if self._partials is None or self._first is None or bucket_id < self._first:
            return BucketValues(start)
        parts = self._partials
        volume = parts.volume.filter(pl.col(BUCKET) == start)
        at = pl.col("reply_at")
        replies = parts.replies.lazy().filter((at >= start) & (at < _end(bucket_id, seconds)))
        found = bucket_values(volume, reply_p95(replies, [], seconds).collect())
        values = found[0] if found else BucketValues(start)
        cost = parts.cost.filter(pl.col(BUCKET) == start)
        usd = float(cost.select(pl.sum("usd_log") + pl.sum("usd_table")).item() or 0.0)
        return replace(values, start=start, usd=usd)

    def _event(
        self,
        kind: Literal["spike", "resolved"],
        metric: str,
        bucket_id: int,
        value: float | None,
        level: Baseline | None,
    ) -> WatchEvent:
        seconds = self.settings.bucket_seconds
        return WatchEvent(
            kind=kind,
            metric=metric,
            bucket_start=_start(bucket_id, seconds),
            bucket_end=_end(bucket_id, seconds),
            value=value,
            baseline=level.median if level else None,
            threshold=level.threshold if level else None,
            ratio=level.ratio(value) if level and value is not None else None,
            top=self._top(bucket_id),
        )

    def _top(self, bucket_id: int) -> dict[str, list[dict[str, Any]]]:
        names = {"bot_id": "bots", "model": "models", "conversation_id": "conversations"}
        if self._partials is None:
            return {label: [] for label in names.values()}
        start = [_start(bucket_id, self.settings.bucket_seconds)]
        shares = self._partials.contributors
        return {
            label: [
                {"name": each.name, "tokens": each.tokens}
                for each in top_contributors(shares, start, name)
            ]
            for name, label in names.items()
        }

    def history_span(self) -> timedelta:
        """How far back the window of buckets and a pending reply reach."""
        return timedelta(seconds=self.settings.bucket_seconds * (self.settings.window + 1))

    def closed_buckets(self) -> list[BucketValues]:
        """The buckets closed since the last call, in time order."""
        closed, self._closed = self._closed, []
        return closed

    # -- for the live view ----------------------------------------------------------------
    def series(self, metric: str = TOKENS) -> list[float | None]:
        """The metric over the recent closed buckets and the open one, oldest first."""
        if self._open is None:
            return []
        buckets = [*self._recent, self._bucket(self._open)]
        return [series_value(metric, bucket) for bucket in buckets]

    def current(self, metric: str = TOKENS) -> tuple[float | None, Baseline | None]:
        if self._open is None:
            return None, None
        return series_value(metric, self._bucket(self._open)), self._histories[metric].level()

    def held_buckets(self) -> int:
        """How many buckets' partials are held (the open one, and any not yet closed)."""
        return self.held().buckets

    def held(self) -> Held:
        """What the monitor holds between batches (what its memory grows with)."""
        parts = self._partials
        return Held(
            buckets=0 if parts is None else parts.volume.get_column(BUCKET).n_unique(),
            replies=0 if parts is None else parts.replies.height,
            contributors=0 if parts is None else parts.contributors.height,
            conversations=self.conversations,
            messages=0 if self._messages is None else self._messages.height,
        )

    @property
    def conversations(self) -> int:
        return 0 if self._carry is None else self._carry.height


def _merged(parts: list[_Partials]) -> _Partials:
    """The merge of each family's partials, by the family's own merge."""
    import polars as pl

    def concat(frames: list[pl.DataFrame]) -> pl.LazyFrame:
        return pl.concat(frames, how="diagonal_relaxed").lazy()

    volume, cost, contributors = pl.collect_all(
        [
            merge_bucket_volume(concat([p.volume for p in parts]), []),
            merge_cost(concat([p.cost for p in parts]), [BUCKET]),
            # Uncut: the top conversations are picked when a bucket is judged.
            merge_contributors(concat([p.contributors for p in parts]), [], top=None),
        ]
    )
    replies = pl.concat([p.replies for p in parts], how="vertical_relaxed")
    return _Partials(volume, cost, contributors, replies)


def _negated(parts: _Partials) -> _Partials:
    """Partials that, merged in, take ``parts`` back out (every merge is a sum)."""
    import polars as pl

    def negate(frame: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
        numeric = [
            name for name, kind in frame.schema.items() if name not in keys and kind.is_numeric()
        ]
        return frame.with_columns(
            -pl.col(name).cast(_signed(frame.schema[name])) for name in numeric
        )

    return _Partials(
        negate(parts.volume, (BUCKET,)),
        negate(parts.cost, (BUCKET,)),
        negate(parts.contributors, (BUCKET,)),
        parts.replies,
    )


def _signed(kind: pl.DataType) -> pl.DataType:
    import polars as pl

    return pl.Float64() if kind.is_float() else pl.Int64()


def _start(bucket_id: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(bucket_id * seconds, UTC)


def _end(bucket_id: int, seconds: int) -> datetime:
    """When a bucket ends; the last instant a datetime holds for the last bucket of 9999."""
    try:
        return _start(bucket_id + 1, seconds)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


def _index(moment: object, seconds: int) -> int | None:
    return int(moment.timestamp()) // seconds if isinstance(moment, datetime) else None


def _show(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == ERROR_RATE:
        return f"{value * 100:.1f}%"
    if metric.startswith("response_ms"):
        return f"{value:,.0f} ms"
    if metric == COST:
        return f"${value:,.2f}"
    return f"{value:,.0f} tokens"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
