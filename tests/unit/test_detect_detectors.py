"""Each detector fires on its pattern and stays quiet on benign data of the same volatility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.detect_factories import features
from virtuoso.config import DetectionSettings
from virtuoso.detect import divergence, liquidation_cascade, oi_surge, price_move, pump_and_dump, volume_spike
from virtuoso.detect.composite import composite_score
from virtuoso.detect.levels import score_for, severity_for
from virtuoso.detect.registry import market_explained
from virtuoso.domain.alerts import AlertKind, Severity

TH = DetectionSettings()


def lv(mod, **kw) -> float:
    return float(mod.level(features(**kw), TH))


def test_quiet_market_raises_no_detector() -> None:
    for mod in (divergence, liquidation_cascade, oi_surge, price_move, pump_and_dump, volume_spike):
        assert lv(mod) < 1.0, mod.__name__


def test_price_move_is_judged_in_sigmas_of_the_symbol_and_needs_a_minimum_percent() -> None:
    assert lv(price_move, ret_short_pct=1.2, sigma_1m_pct=0.1) >= 1.0  # 12 sigma, 1.2 %
    assert lv(price_move, ret_short_pct=-1.2, sigma_1m_pct=0.1) >= 1.0  # down moves too
    assert lv(price_move, ret_short_pct=1.2, sigma_1m_pct=0.5) < 1.0  # same move on a wild coin: 2.4 sigma
    assert lv(price_move, ret_short_pct=0.3, sigma_1m_pct=0.01) < 1.0  # 30 sigma but only 0.3 %


def test_price_move_on_five_minutes_needs_the_move_still_under_way() -> None:
    assert lv(price_move, ret_mid_pct=-3.0, ret_short_pct=-0.5, sigma_1m_pct=0.1) >= 1.0
    assert lv(price_move, ret_mid_pct=-3.0, ret_short_pct=-0.05, sigma_1m_pct=0.1) < 1.0  # it ended minutes ago
    assert lv(price_move, ret_mid_pct=-3.0, ret_short_pct=0.5, sigma_1m_pct=0.1) < 1.0  # bouncing back


def test_volume_spike_needs_both_the_fast_window_and_two_minutes() -> None:
    assert lv(volume_spike, vol_ratio_fast=8.0, vol_ratio_mid=4.0) >= 1.0
    assert lv(volume_spike, vol_ratio_fast=8.0, vol_ratio_mid=1.5) < 1.0  # one print, not a burst
    assert lv(volume_spike, vol_ratio_fast=3.0, vol_ratio_mid=3.0) < 1.0


def test_oi_surge_uses_the_larger_of_the_threshold_and_the_symbols_own_noise() -> None:
    rising = dict(oi_chg_pct=3.0, oi_chg_short_pct=1.0)
    assert lv(oi_surge, **rising) >= 1.0
    assert lv(oi_surge, **rising, oi_noise_pct=1.0) < 1.0  # this coin's OI churns 1 % anyway
    assert lv(oi_surge, **rising, ret_long_pct=-2.0) == 0.0  # falling price: that is divergence


def test_oi_surge_opens_a_watch_on_its_first_minute_and_the_window_grades_it() -> None:
    assert 1.0 <= lv(oi_surge, oi_chg_pct=0.25, oi_chg_short_pct=0.25, oi_noise_pct=0.03) < 1.6
    assert lv(oi_surge, oi_chg_pct=0.15, oi_chg_short_pct=0.15, oi_noise_pct=0.03) < 1.0
    assert lv(oi_surge, oi_chg_pct=1.0, oi_chg_short_pct=0.5, oi_noise_pct=0.03) >= 1.6


def test_oi_surge_is_quiet_once_open_interest_has_stopped_rising() -> None:
    assert lv(oi_surge, oi_chg_pct=3.0, oi_chg_short_pct=0.6) >= 1.0
    assert lv(oi_surge, oi_chg_pct=3.0, oi_chg_short_pct=0.02) < 1.0  # the window still remembers the surge


def test_divergence_catches_shorts_crowding_in_and_short_covering() -> None:
    crowding = dict(oi_chg_long_pct=2.0, oi_chg_pct=1.0, oi_chg_short_pct=0.3, ret_long_pct=-0.8)
    covering = dict(oi_chg_long_pct=-2.0, oi_chg_pct=-1.0, oi_chg_short_pct=-0.3, ret_long_pct=0.8)
    assert lv(divergence, **crowding) >= 1.6 and lv(divergence, **covering) >= 1.6  # confirmed by price: high
    slow = lambda **kw: float(divergence.slow_level(features(**kw), TH))  # noqa: E731
    assert slow(**{**crowding, "ret_long_pct": 0.1}) < 1.0  # price inside the flat band: not confirmed
    assert slow(**{**crowding, "oi_chg_pct": 0.0}) < 1.0  # OI no longer moving
    assert slow(**{**crowding, "oi_chg_short_pct": 0.0}) < 1.0  # ... not even in the last minute


def test_divergence_reads_the_last_minute_of_oi_against_a_flat_tape_as_an_early_watch() -> None:
    crowding = dict(oi_chg_short_pct=0.2, ret_short_pct=-0.02, buy_share_short=0.45, oi_noise_pct=0.03)
    assert 1.0 <= lv(divergence, **crowding) < 1.6  # a watch: price has not confirmed it yet
    assert lv(divergence, **{**crowding, "oi_chg_short_pct": 5.0}) < 1.6  # however large the OI jump
    assert lv(divergence, **{**crowding, "buy_share_short": 0.6}) < 1.0  # takers buying: new longs
    assert lv(divergence, **{**crowding, "ret_short_pct": 0.5}) < 1.0  # price up with OI: no divergence
    assert lv(divergence, **{**crowding, "oi_noise_pct": 0.2}) < 1.0  # this coin's OI moves that much anyway


def test_divergence_reads_falling_oi_on_a_buying_tape_as_short_covering() -> None:
    covering = dict(oi_chg_short_pct=-0.2, ret_short_pct=0.0, buy_share_short=0.65, oi_noise_pct=0.03)
    assert 1.0 <= lv(divergence, **covering) < 1.6
    assert divergence.evidence(features(**covering), TH)["pattern"] == "short covering"
    assert lv(divergence, **{**covering, "buy_share_short": 0.5}) < 1.0  # a balanced tape: longs left too
    assert lv(divergence, **{**covering, "ret_short_pct": -0.5}) < 1.0  # price falling: longs closing
    assert lv(divergence, **{**covering, "buy_share_short": math.nan}) < 1.0  # no trades: no reading


def test_pump_needs_a_rise_while_rising_and_a_volume_surge() -> None:
    assert lv(pump_and_dump, rise_pct=3.0, ret_short_pct=0.5, vol_ratio_fast=6.0, vol_ratio_mid=6.0) >= 1.0
    assert lv(pump_and_dump, rise_pct=3.0, ret_short_pct=0.5, vol_ratio_fast=1.2, vol_ratio_mid=1.2) < 1.0
    assert lv(pump_and_dump, rise_pct=3.0, ret_short_pct=-0.5, ret_fast_pct=-0.2, vol_ratio_fast=6.0, vol_ratio_mid=6.0) == 0.0


def test_pump_opens_on_the_fast_volume_window_but_not_on_one_print() -> None:
    assert lv(pump_and_dump, rise_pct=1.5, ret_short_pct=0.5, vol_ratio_fast=4.5, vol_ratio_mid=2.5) >= 1.0
    assert lv(pump_and_dump, rise_pct=1.5, ret_short_pct=0.5, vol_ratio_fast=9.0, vol_ratio_mid=1.2) < 1.0
    assert pump_and_dump.retrace_frac(100.0, 110.0, 104.0) == pytest.approx(0.6)


def test_a_market_wide_move_explains_short_covering_but_not_shorts_crowding_in() -> None:
    covering = features(oi_chg_short_pct=-0.3, ret_short_pct=0.4, buy_share_short=0.7, oi_noise_pct=0.03)
    crowding = features(oi_chg_short_pct=0.3, ret_short_pct=-0.4, buy_share_short=0.4, oi_noise_pct=0.03)
    assert bool(market_explained(AlertKind.OI_PRICE_DIVERGENCE, covering, TH))
    assert not bool(market_explained(AlertKind.OI_PRICE_DIVERGENCE, crowding, TH))
    assert market_explained(AlertKind.PRICE_MOVE, crowding, TH) is True
    assert market_explained(AlertKind.OI_SURGE, covering, TH) is False


def test_pump_opens_early_on_a_30s_rise_with_heavy_one_sided_buying() -> None:
    early = dict(ret_fast_pct=0.4, vol_ratio_fast=2.5, buy_share_fast=0.7, sigma_1m_pct=0.08)
    assert 1.0 <= lv(pump_and_dump, **early) < 1.6  # a watch; high needs the confirmed rise or the dump
    assert pump_and_dump.evidence(features(**early), TH)["trigger"] == "early"
    assert lv(pump_and_dump, **{**early, "buy_share_fast": 0.5}) < 1.0  # a busy two-sided tape
    assert lv(pump_and_dump, **{**early, "vol_ratio_fast": 1.2}) < 1.0  # no volume behind it
    assert lv(pump_and_dump, **{**early, "sigma_1m_pct": 0.3}) < 1.0  # ordinary for this coin
    assert lv(pump_and_dump, **{**early, "ret_fast_pct": -0.4}) < 1.0  # falling


def test_cascade_needs_liquidations_price_impact_and_an_oi_drop_together() -> None:
    hit = dict(liq_usd=1_000_000.0, ret_mid_pct=-2.0, oi_drop_pct=2.0)
    assert lv(liquidation_cascade, **hit) >= 1.0
    assert lv(liquidation_cascade, **{**hit, "oi_drop_pct": 0.1}) < 1.0
    assert lv(liquidation_cascade, **{**hit, "liq_baseline_usd": 500_000.0}) < 1.0  # normal for this coin


def test_detectors_accept_arrays_so_the_backtest_uses_the_same_formulas() -> None:
    f = features(ret_short_pct=np.array([0.0, 1.2]), sigma_1m_pct=np.array([0.1, 0.1]))
    out = price_move.level(f, TH)
    assert out.shape == (2,) and out[0] < 1.0 <= out[1]


def test_severity_and_score_grow_with_the_level() -> None:
    assert [severity_for(x) for x in (0.5, 1.0, 1.6, 2.5)] == [Severity.INFO, Severity.WATCH, Severity.HIGH, Severity.CRITICAL]
    assert score_for(1.0) == 50 and score_for(4.0) == 100 and score_for(0.0) == 0
    assert math.isclose(score_for(2.0), 75.0)


def test_composite_adds_agreement_and_stays_within_0_and_100() -> None:
    assert composite_score({}) == 0.0
    one = composite_score({"a": 1.0})
    assert composite_score({"a": 1.0, "b": 1.2}) > one
    assert composite_score({k: 9.0 for k in "abcdef"}) == 100.0
