"""The spike detector, shared by ``report`` (past spikes) and ``watch`` (live alerts).

A bucket is a spike when its value exceeds a robust rolling baseline of the previous ``window``
buckets: above median + ``sensitivity`` x scaled MAD, and at least ``min_ratio`` x the median,
and above an absolute ``floor`` (``--min-tokens`` for tokens). The median and the MAD (median
absolute deviation, scaled by 1.4826 to match a standard deviation on normal data) are not
moved by the spikes themselves the way a mean and a standard deviation are. The ratio and the
floor keep flat quiet periods, where the MAD is near zero, from alerting on noise. Before
``warmup`` buckets of history exist nothing is flagged.

Defaults, and why: a window of 24 buckets is a day of hourly buckets, which covers the daily
rhythm of chat traffic; a sensitivity of 5 MADs is far outside normal variation (about 1 in
3 million for normal noise), so alerts are rare and mean something; a ratio of 2 asks for a
doubling, the size of change a query loop or a broken knowledge base causes; a warm-up of half
the window gives the median enough points to be meaningful.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MAD_SCALE: Final = 1.4826
DEFAULT_WINDOW: Final = 24
DEFAULT_SENSITIVITY: Final = 5.0
DEFAULT_MIN_RATIO: Final = 2.0
DEFAULT_MIN_TOKENS: Final = 5_000.0


@dataclass(frozen=True)
class DetectorSettings:
    window: int = DEFAULT_WINDOW
    sensitivity: float = DEFAULT_SENSITIVITY
    min_ratio: float = DEFAULT_MIN_RATIO
    floor: float = 0.0
    warmup: int | None = None

    @property
    def min_history(self) -> int:
        """Buckets of history needed before anything is flagged."""
        return self.warmup if self.warmup is not None else max(3, self.window // 2)


@dataclass(frozen=True)
class Baseline:
    """The baseline of one bucket: what "normal" was just before it, and the alert level."""

    median: float
    mad: float
    threshold: float

    def ratio(self, value: float) -> float | None:
        return value / self.median if self.median > 0 else None


def baseline(history: Sequence[float], settings: DetectorSettings) -> Baseline | None:
    """The baseline from the previous buckets (oldest first), or None during warm-up."""
    recent = list(history)[-settings.window :]
    if len(recent) < settings.min_history:
        return None
    median = statistics.median(recent)
    mad = MAD_SCALE * statistics.median(abs(value - median) for value in recent)
    threshold = max(
        median + settings.sensitivity * mad, median * settings.min_ratio, settings.floor
    )
    return Baseline(median=median, mad=mad, threshold=threshold)


def is_spike(value: float, history: Sequence[float], settings: DetectorSettings) -> bool:
    level = baseline(history, settings)
    return level is not None and value > level.threshold


@dataclass(frozen=True)
class SpikeRun:
    """Consecutive flagged buckets ``[first, last]`` of a series, and their baseline."""

    first: int
    last: int
    total: float
    peak: float
    baseline: Baseline


class History:
    """The values a series' next bucket is judged against: its last ``window`` known values
    (buckets without data are skipped, not counted). ``report`` walks a whole series through
    one; ``watch`` pushes each bucket as it closes and judges the open one against it, so both
    judge every bucket alike."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self._values: deque[float] = deque(maxlen=max(settings.window, 1))

    def level(self) -> Baseline | None:
        """The baseline of the next bucket, or None during warm-up."""
        return baseline(self._values, self.settings)

    def push(self, value: float | None) -> None:
        if value is not None:
            self._values.append(value)


def find_spikes(values: Sequence[float | None], settings: DetectorSettings) -> list[SpikeRun]:
    """Runs of spike buckets in a series (None values are buckets without data: skipped).

    Each bucket is judged against the buckets before it, spikes included, exactly as the live
    watch judges a bucket against the closed ones before it.
    """
    runs: list[SpikeRun] = []
    history = History(settings)
    current: list[int] = []
    start_level: Baseline | None = None
    for index, value in enumerate(values):
        level = history.level() if value is not None else None
        if value is not None and level is not None and value > level.threshold:
            if not current:
                start_level = level
            current.append(index)
        elif current and start_level is not None:
            runs.append(_run(current, values, start_level))
            current = []
        history.push(value)
    if current and start_level is not None:
        runs.append(_run(current, values, start_level))
    return runs


def _run(indices: list[int], values: Sequence[float | None], level: Baseline) -> SpikeRun:
    picked = [float(values[i] or 0.0) for i in indices]
    return SpikeRun(indices[0], indices[-1], sum(picked), max(picked), level)
