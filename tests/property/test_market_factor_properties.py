"""The leave-one-out weighted median: the one-row fast path, the row-by-row path and a plain
definition agree on any input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.detect.market_factor import MIN_OTHERS, loo_weighted_median, loo_weighted_median_rows

values = st.one_of(st.floats(-50, 50), st.just(float("nan")))
# Weights are square roots of turnover: zero (no trading) or within a few decades of each other.
weights = st.one_of(st.just(0.0), st.floats(1e-3, 10))
row = st.integers(1, 12).flatmap(lambda n: st.tuples(st.lists(values, min_size=n, max_size=n),
                                                     st.lists(weights, min_size=n, max_size=n)))


def plain(x: list[float], w: list[float]) -> list[float]:
    out = []
    for i in range(len(x)):
        pts = sorted((x[j], w[j]) for j in range(len(x)) if j != i and x[j] == x[j] and w[j] > 0)
        if len(pts) < MIN_OTHERS:
            out.append(float("nan"))
            continue
        half, acc = sum(b for _, b in pts) / 2.0, 0.0
        for v, b in pts:
            acc += b
            if acc >= half:
                out.append(v)
                break
    return out


@settings(max_examples=300, deadline=None)
@given(row)
def test_fast_path_rows_path_and_definition_agree(data: tuple[list[float], list[float]]) -> None:
    x, w = data
    fast, everyone = loo_weighted_median(np.array(x), np.array(w))
    rows, everyone_rows = loo_weighted_median_rows(np.array([x]), np.array([w]))
    assert np.allclose(fast, plain(x, w), equal_nan=True)
    assert np.allclose(fast, rows[0], equal_nan=True)
    assert (everyone == everyone_rows[0]) or (np.isnan(everyone) and np.isnan(everyone_rows[0]))


@settings(max_examples=50, deadline=None)
@given(st.lists(row, min_size=2, max_size=5))
def test_rows_are_independent(data: list[tuple[list[float], list[float]]]) -> None:
    n = max(len(x) for x, _ in data)
    xs = np.array([x + [float("nan")] * (n - len(x)) for x, _ in data])
    ws = np.array([w + [0.0] * (n - len(w)) for _, w in data])
    rows, _ = loo_weighted_median_rows(xs, ws)
    for i, (x, w) in enumerate(data):
        assert np.allclose(rows[i, : len(x)], plain(x, w), equal_nan=True)
