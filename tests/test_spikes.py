"""The spike detector on constructed series, with the expected flags worked out by hand."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botistat.spikes.detector import DetectorSettings, baseline, find_spikes, is_spike

SETTINGS = DetectorSettings(window=24, sensitivity=5.0, min_ratio=2.0, floor=1000.0)


def flagged(values: list[float | None], settings: DetectorSettings = SETTINGS) -> list[int]:
    return [i for run in find_spikes(values, settings) for i in range(run.first, run.last + 1)]


def test_baseline_by_hand() -> None:
    history = [100.0, 110.0, 90.0, 100.0, 105.0, 95.0]
    level = baseline(history, DetectorSettings(window=6, sensitivity=5, min_ratio=2, floor=0))
    assert level is not None
    # median 100; deviations 0 10 10 0 5 5 -> median 5; scaled 7.413; 100 + 5 * 7.413 = 137.065
    assert level.median == 100.0
    assert level.mad == pytest.approx(5 * 1.4826)
    # The ratio guard (2 x 100 = 200) is higher than median + 5 MAD, so it sets the threshold.
    assert level.threshold == 200.0


def test_single_spike() -> None:
    values: list[float | None] = [5000.0 + 100 * (i % 3) for i in range(30)]
    values[26] = 40_000.0
    runs = find_spikes(values, SETTINGS)
    assert [(r.first, r.last) for r in runs] == [(26, 26)]
    assert runs[0].peak == 40_000.0
    assert runs[0].baseline.median == 5100.0
    assert runs[0].baseline.ratio(40_000.0) == pytest.approx(40_000 / 5100)


def test_plateau_is_flagged_then_becomes_the_new_normal() -> None:
    values: list[float | None] = [5000.0] * 24 + [20_000.0] * 30
    hits = flagged(values)
    # The first plateau buckets are spikes; once half the window is at the new level the
    # median moves up and the plateau stops being one.
    assert hits[0] == 24
    assert hits == list(range(24, 24 + len(hits)))
    assert 1 <= len(hits) <= 12


def test_slow_ramp_is_not_a_spike() -> None:
    values: list[float | None] = [5000.0 * (1.03**i) for i in range(60)]
    assert flagged(values) == []


def test_warm_up_flags_nothing() -> None:
    values: list[float | None] = [5000.0] * 11 + [500_000.0]
    assert flagged(values) == []  # 11 buckets of history < 12 needed
    assert flagged([5000.0] * 12 + [500_000.0]) == [12]


def test_gaps_are_skipped_not_zero() -> None:
    values: list[float | None] = [5000.0, None] * 12 + [5000.0, 40_000.0]
    # Missing buckets (no data) neither count as history nor as spikes.
    assert flagged(values) == [25]


def test_min_tokens_floor() -> None:
    quiet: list[float | None] = [10.0, 12.0, 11.0, 9.0] * 6 + [900.0]
    assert flagged(quiet) == []  # 90x the median, but under the 1000-token floor
    assert flagged([*quiet[:-1], 1200.0]) == [24]


def test_min_ratio_guard() -> None:
    # A perfectly flat series has MAD 0: without the ratio guard any increase would alert.
    flat: list[float | None] = [10_000.0] * 24
    assert flagged([*flat, 19_000.0]) == []
    assert flagged([*flat, 21_000.0]) == [24]


def test_noise_does_not_alert() -> None:
    rng = random.Random(5)
    values: list[float | None] = [rng.gauss(20_000, 2_000) for _ in range(2000)]
    assert flagged(values) == []


@given(st.lists(st.floats(min_value=0, max_value=1e7), min_size=0, max_size=60))
def test_a_spike_is_always_above_the_median_and_the_floor(values: list[float]) -> None:
    for i, value in enumerate(values):
        if is_spike(value, values[:i], SETTINGS):
            history = values[max(0, i - 24) : i]
            assert value > statistics.median(history) * 2
            assert value > 1000.0
