"""The market factor explains a move only when the rest of the market made it."""

from __future__ import annotations

import numpy as np

from virtuoso.detect.market_factor import (
    MAX_WEIGHT_SHARE,
    Betas,
    capped_weights,
    explained_residual,
    loo_weighted_median,
)

LIQ = np.array([4e9, 2e9, 8e8, 5e8, 4e8])  # BTC, ETH, SOL, XRP, DOGE turnover per day
W = capped_weights(LIQ)


def own_move(ret: np.ndarray) -> np.ndarray:
    others, _ = loo_weighted_median(ret, W)
    return explained_residual(ret, others)


def test_a_symbols_own_crash_in_a_calm_market_is_all_its_own() -> None:
    ret = np.array([-2.6, 0.1, -0.3, 0.2, -0.4])
    assert own_move(ret)[0] == -2.6


def test_two_symbols_moving_together_are_not_the_market() -> None:
    ret = np.array([3.0, 3.2, 0.1, -0.2, 0.1])  # even BTC and ETH together, the two heaviest
    assert np.allclose(own_move(ret)[:2], [3.0, 3.2], atol=0.2)


def test_the_whole_market_moving_explains_each_share_and_keeps_a_far_bigger_move() -> None:
    ret = np.array([-3.0, -3.5, -4.0, -3.2, -12.0])
    got = own_move(ret)
    assert np.allclose(got[:4], 0.0, atol=1.0) and got[4] < -7.5


def test_not_following_a_market_drop_is_not_a_move_of_its_own() -> None:
    ret = np.array([-3.0, -3.5, -4.0, -3.2, 0.0])
    assert own_move(ret)[4] == 0.0
    assert own_move(np.array([-3.0, -3.5, -4.0, -3.2, 0.5]))[4] == 0.5  # up while the market fell: kept


def test_no_symbol_is_the_market_and_a_small_watchlist_explains_nothing() -> None:
    assert (W / W.sum() <= MAX_WEIGHT_SHARE + 1e-6).all()
    others, _ = loo_weighted_median(np.array([1.0, 1.0, 1.0]), np.ones(3))
    assert np.isnan(others).all()


def test_betas_learn_a_coins_leverage_to_the_market() -> None:
    rng = np.random.default_rng(0)
    b = Betas(2)
    for _ in range(2_000):
        f = rng.normal(0, 0.1)
        b.update(np.array([1.8 * f + rng.normal(0, 0.02), 0.3 * f + rng.normal(0, 0.02)]), np.array([f, f]))
    # shrunk towards 1 by a prior worth two hours, but far nearer the truth than the prior
    assert abs(b.beta[0] - 1.8) < 0.25 and abs(b.beta[1] - 0.3) < 0.25
