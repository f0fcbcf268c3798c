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


def test_one_huge_return_does_not_blind_the_volatility_for_a_quarter_hour() -> None:
    rng = np.random.default_rng(1)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, 130)))
    calm = features.realised_sigma_pct(closes)
    jumped = closes.copy()
    jumped[-5:] *= 1.2  # a 20 % jump four minutes ago
    assert features.realised_sigma_pct(jumped) < 2.0 * calm


def test_a_busy_quarter_hour_raises_the_volatility_at_once() -> None:
    rng = np.random.default_rng(2)
    r = np.concatenate([rng.normal(0.0, 0.001, 115), rng.normal(0.0, 0.003, 15)])
    closes = 100.0 * np.exp(np.cumsum(r))
    assert features.realised_sigma_pct(closes) > 0.2  # about 0.3 %, not the calm 0.1 %


def test_a_symbol_moves_with_the_market_on_either_window_and_in_its_direction() -> None:
    assert features.moving_sign(0.5, 0.1, 0.1) == 1.0  # 5 sigma within the minute
    assert features.moving_sign(-0.1, -0.6, 0.1) == -1.0  # 2.7 sigma of five minutes
    assert features.moving_sign(0.1, 0.2, 0.1) == 0.0
    assert features.moving_sign(0.5, 0.1, float("nan")) == 0.0


returns = st.floats(min_value=-50, max_value=50, allow_nan=False) | st.just(float("nan"))


@given(returns, returns, st.floats(min_value=features.MIN_SIGMA_PCT, max_value=10) | st.just(float("nan")))
def test_the_streaming_market_move_sign_equals_the_array_one(short: float, mid: float, sigma: float) -> None:
    # Sigma is never below its floor (realised_sigma_pct), so the domain starts there.
    assert series.moving_sign(short, mid, sigma) == float(features.moving_sign(short, mid, sigma))
