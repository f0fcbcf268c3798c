"""Calibrated alarm levels: each symbol is judged against its own distribution, so the alarm rate is
set by the budget for a calm major and a wild thin coin alike."""

from __future__ import annotations

import numpy as np
import pytest

from virtuoso.detect.calibration import (
    MINUTES_PER_DAY,
    Calibrator,
    Prior,
    TailModel,
    exceedance_probability,
    fit_tails,
    graded_level,
)

MODEL = TailModel(body_xi=0.18, tail_xi=0.4, cluster_min=1.0)


def crossings_per_day(x: np.ndarray, level: float) -> float:
    return float((x > level).sum()) / (x.size / MINUTES_PER_DAY)


@pytest.mark.parametrize("history_min", [360, 2 * MINUTES_PER_DAY])
def test_a_calm_major_and_a_wild_thin_coin_stay_within_the_budget_on_their_own_levels(history_min: int) -> None:
    rng = np.random.default_rng(7)
    days, rate = 60, 2.0
    calm = np.abs(rng.standard_normal(days * MINUTES_PER_DAY))  # light tail, unit scale
    wild = 12.0 * np.abs(rng.standard_t(3, days * MINUTES_PER_DAY))  # heavy tail, twelve times the scale
    fits = fit_tails(np.vstack([calm[:history_min], wild[:history_min]]), MODEL)
    levels = fits.levels([rate], 1.0)[:, 0]
    held_out = slice(2 * MINUTES_PER_DAY, None)
    got = [crossings_per_day(calm[held_out], levels[0]), crossings_per_day(wild[held_out], levels[1])]
    # On held-out minutes both stay within the budget's reach (a fixed level would flag the wild
    # coin thousands of times more often); the shape priors are those of real markets (heavy tails),
    # so a heavy-tailed coin sits near its budget and a light-tailed one errs towards silence.
    assert all(r <= 2.5 * rate for r in got), got
    assert got[1] >= rate / 4, got
    assert levels[1] > 10 * levels[0]


def test_a_lower_budget_gives_a_higher_level_and_graded_levels_meet_the_common_scale() -> None:
    rng = np.random.default_rng(1)
    fit = fit_tails(np.abs(rng.standard_t(4, (3, 3000))), MODEL)
    lv = fit.levels([1.0, 0.1, 0.01], 1.0)
    assert (np.diff(lv, axis=1) > 0).all()
    w, h, c = lv[:, 0], lv[:, 1], lv[:, 2]
    assert np.allclose(graded_level(w, w, h, c), 1.0) and np.allclose(graded_level(h, w, h, c), 1.6)
    assert np.allclose(graded_level(c, w, h, c), 2.5)
    grid = np.linspace(0, 3 * c.max(), 200)[:, None]
    assert (np.diff(graded_level(grid, w, h, c), axis=0) >= 0).all()


def test_too_little_history_gives_no_level_and_a_prior_fills_in_until_the_own_history_counts() -> None:
    short = np.abs(np.random.default_rng(2).standard_normal((1, 20)))
    assert np.isnan(fit_tails(short, MODEL).levels([0.1], 1.0)).all()
    prior = Prior(u=2.0, s=1.0, share=1.0, xi=0.4)
    x = np.abs(np.random.default_rng(3).standard_normal((1, 60)))
    with_prior = fit_tails(x, MODEL, prior).levels([0.1], 1.0)[0, 0]
    alone = fit_tails(x, MODEL).levels([0.1], 1.0)[0, 0]
    prior_only = fit_tails(np.abs(np.random.default_rng(3).standard_normal((1, 10 ** 6))) * 0 + 0.0, MODEL, prior)
    assert np.isfinite(with_prior) and with_prior != alone
    assert np.isfinite(prior_only.levels([0.1], 1.0)).all()  # a statistic never above zero: the prior alone


def test_a_statistic_that_is_zero_most_minutes_is_fitted_on_the_minutes_above_zero() -> None:
    rng = np.random.default_rng(4)
    n = 40 * MINUTES_PER_DAY
    x = np.where(rng.random(n) < 0.1, np.abs(rng.standard_t(3, n)) * 5, 0.0)
    lv = fit_tails(x[: 4 * MINUTES_PER_DAY][None, :], MODEL).levels([2.0], 1.0)[0, 0]
    assert 0.5 <= crossings_per_day(x[4 * MINUTES_PER_DAY:], lv) <= 5.0


def test_the_calibrator_leaves_minutes_of_an_open_event_out_and_refits_in_chunks() -> None:
    cal = Calibrator({"s": MODEL}, 2, 600, {"s": (1.0, 0.1, 0.01)})
    rng = np.random.default_rng(5)
    for minute in range(200):
        for _ in range(3):
            cal.observe("s", np.abs(rng.standard_normal(2)))
        cal.close_minute(np.array([False, minute % 2 == 0]))
    samples = cal.samples("s")
    assert np.isfinite(samples[0]).sum() == 200 and np.isfinite(samples[1]).sum() == 100
    for _ in range(2):
        cal.refit_step()
    assert np.isfinite(cal.levels("s")).all()


def test_exceedance_probability_counts_crossings_not_minutes() -> None:
    assert exceedance_probability(1.0, 1.0) == pytest.approx(1 / MINUTES_PER_DAY)
    assert exceedance_probability(1.0, 15.0) == pytest.approx(8 / MINUTES_PER_DAY)
