"""The fast scalar and small-array helpers give exactly what numpy gives for the same formula."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from virtuoso.detect import features, series

floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from([0.0, -0.0, 1e-300, 3e300])


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _numpy_pct(new: float, old: float) -> float:
    """The backtest's definition: percent change with numpy float division."""
    return float((np.float64(new) / np.float64(old) - 1.0) * 100.0)


def _numpy_ratio(num: float, den: float) -> float:
    out = np.float64(num) / np.float64(den)
    return float(out) if np.isfinite(out) else 0.0


@given(floats, floats)
def test_streaming_pct_and_ratio_match_numpy_division(new: float, old: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _same(series.pct(new, old), _numpy_pct(new, old))
        assert _same(series.ratio(new, old), _numpy_ratio(new, old))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9), max_size=150))
def test_the_partition_median_equals_numpy_median(values: list[float]) -> None:
    a = np.array(values, dtype=float)
    expected = float(np.median(a)) if a.size else float("nan")
    assert _same(features._median(a), expected)


@given(st.lists(st.floats(min_value=0, max_value=1e9), min_size=1, max_size=150))
def test_clipped_mean_uses_numpys_90th_percentile(values: list[float]) -> None:
    a = np.array(values, dtype=float)
    expected = float(np.minimum(a, np.percentile(a, 90)).mean())
    assert abs(features.clipped_mean(a) - expected) <= 1e-9 * max(1.0, abs(expected))
