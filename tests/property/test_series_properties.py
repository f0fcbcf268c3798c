"""The streaming series' rolling extremes equal the plain min/max over the same seconds."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.detect.features import LONG_S, MID_S
from virtuoso.detect.series import SecondSeries
from virtuoso.domain.bars import Bar

prices = st.one_of(st.floats(1.0, 1.05), st.just(math.nan))


def plain(values: list[float], window: int, pick) -> float:
    kept = [v for v in values[-window:] if v == v]
    return pick(kept) if kept else math.nan


@settings(max_examples=30, deadline=None)
@given(closes=st.lists(prices, min_size=1, max_size=1_400), ois=st.lists(prices, min_size=1, max_size=1_400),
       capacity=st.sampled_from([LONG_S + 1, 1_000]))
def test_the_rolling_low_and_oi_peak_equal_min_and_max_over_the_window(closes, ois, capacity) -> None:
    series = SecondSeries(capacity_s=capacity)  # a short capacity trims the lists as it goes
    seen_close: list[float] = []
    seen_oi: list[float] = []
    for k, close in enumerate(closes):
        oi = ois[k % len(ois)]
        series.push(Bar("X", k * 1000, 1, close, close, close, close, open_interest=oi))
        seen_close.append(close)
        seen_oi.append(oi)
        low, peak = plain(seen_close, LONG_S + 1, min), plain(seen_oi, MID_S + 1, max)
        assert (series.low == low) or (math.isnan(series.low) and math.isnan(low))
        assert (series.oi_peak == peak) or (math.isnan(series.oi_peak) and math.isnan(peak))


def test_the_window_ends_exactly_where_the_plain_slices_do() -> None:
    # Rising closes put the low at the window's oldest second, falling OI the peak there too.
    series = SecondSeries()
    for k in range(2_500):
        series.push(Bar("X", k * 1000, 1, 100.0 + k, 100.0 + k, 100.0 + k, 100.0 + k, open_interest=1e6 - k))
        assert series.low == 100.0 + max(0, k - LONG_S)
        assert series.oi_peak == 1e6 - max(0, k - MID_S)
