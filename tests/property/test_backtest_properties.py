"""The threshold backtest: monotone in its thresholds, deterministic, and in line with live detection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect.backtest import backtest_flags, flag_counts
from virtuoso.domain.bars import Bar

T0 = 1_736_121_600_000
SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
# Floors: raising one is stricter. Budgets: lowering one is stricter. (The history length is neither.)
BUDGETS = ["watch_per_day", "high_per_day"]
FLOORS = [name for name in DetectionSettings.model_fields if name not in BUDGETS and name != "history_hours"]


def stricter(base: DetectionSettings, field: str, factor: float) -> DetectionSettings:
    """``base`` with ``field`` made stricter by ``factor`` (a floor raised, a budget lowered), in range."""
    extra = DetectionSettings.model_fields[field].json_schema_extra
    lo, hi = extra["min"], extra["max"]  # type: ignore[index]
    v = getattr(base, field)
    new = max(lo, v / factor) if field in BUDGETS else min(hi, max(v, 1e-3) * factor)
    return base.model_copy(update={field: new})


def random_history(seed: int, minutes: int = 240) -> dict[str, list[Bar]]:
    """Random walks with bursts of volume, OI jumps, liquidation clusters and price jumps, plus
    minutes where several of them come together with a one-sided tape (a rush of buying, short
    covering), sized across the thresholds, so every detector's every reading has flags to lose."""
    rng = np.random.default_rng(seed)
    out = {}

    def sometimes(p: float, values: np.ndarray) -> np.ndarray:
        return np.where(rng.random(minutes) < p, values, 0.0)

    for symbol in SYMBOLS:
        ret = rng.normal(0, 0.001, minutes) + sometimes(0.02, rng.normal(0, 0.03, minutes))
        volume_mult = np.where(rng.random(minutes) < 0.03, rng.uniform(3, 20, minutes), 1.0)
        oi_ret = rng.normal(0, 0.0002, minutes) + sometimes(0.02, rng.normal(0, 0.03, minutes))
        buy = np.clip(0.5 + rng.normal(0, 0.05, minutes), 0.02, 0.98)
        rush = rng.random(minutes) < 0.04  # price up 0.1-3 % on 1.5-10x volume, bought
        ret += np.where(rush, rng.uniform(0.001, 0.03, minutes), 0.0)
        volume_mult = np.where(rush, rng.uniform(1.5, 10, minutes), volume_mult)
        buy = np.where(rush, rng.uniform(0.55, 0.95, minutes), buy)
        covering = rng.random(minutes) < 0.04  # OI down 0.05-2 % while takers buy
        oi_ret -= np.where(covering, rng.uniform(0.0005, 0.02, minutes), 0.0)
        buy = np.where(covering, rng.uniform(0.5, 0.9, minutes), buy)
        crowding = rng.random(minutes) < 0.04  # OI up 0.05-2 % while takers sell
        oi_ret += np.where(crowding, rng.uniform(0.0005, 0.02, minutes), 0.0)
        buy = np.where(crowding, rng.uniform(0.2, 0.5, minutes), buy)
        close = 100 * np.exp(np.cumsum(ret))
        vol = rng.lognormal(3, 0.5, minutes) * volume_mult
        oi = 1e5 * np.exp(np.cumsum(oi_ret))
        liq = sometimes(0.03, rng.lognormal(8, 1, minutes))
        out[symbol] = [Bar(symbol, T0 + i * 60_000, 60, close[i], close[i], close[i], close[i], float(vol[i]),
                           float(vol[i] * close[i]), 10, float(vol[i] * buy[i]), float(vol[i] * (1 - buy[i])),
                           float(oi[i]), 0.0001, float(liq[i]), 0.0) for i in range(minutes)]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), field=st.sampled_from(FLOORS + BUDGETS), factor=st.floats(1.0, 4.0))
def test_raising_a_floor_or_lowering_a_budget_never_adds_flags(seed: int, field: str, factor: float) -> None:
    bars = random_history(seed)
    base = DetectionSettings()
    raised = stricter(base, field, factor)
    before, after = flag_counts(backtest_flags(bars, base)), flag_counts(backtest_flags(bars, raised))
    # A flag is an event: a stricter setting can rename one (its primary kind) but never add one.
    for symbol, kinds in after.items():
        assert sum(kinds.values()) <= sum(before.get(symbol, {}).values()), (field, symbol)


@pytest.mark.parametrize("field", FLOORS + BUDGETS)
def test_each_floor_and_budget_made_stricter_never_adds_flags_on_fixed_histories(field: str) -> None:
    # Every field, every run (the hypothesis test above samples a few of them per run).
    base = DetectionSettings()
    for seed in (1, 2, 3):
        bars = random_history(seed)
        before = flag_counts(backtest_flags(bars, base))
        for factor in (1.25, 2.0, 4.0):
            raised = stricter(base, field, factor)
            for symbol, kinds in flag_counts(backtest_flags(bars, raised)).items():
                assert sum(kinds.values()) <= sum(before.get(symbol, {}).values()), (field, factor, seed, symbol)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_same_history_gives_the_same_flags(seed: int) -> None:
    bars = random_history(seed)
    assert backtest_flags(bars, DetectionSettings()) == backtest_flags(bars, DetectionSettings())


def test_a_longer_cooldown_never_adds_flags() -> None:
    bars = random_history(3)
    short = len(backtest_flags(bars, DetectionSettings(), AlertPolicySettings(cooldown_s=60)))
    long = len(backtest_flags(bars, DetectionSettings(), AlertPolicySettings(cooldown_s=3_600)))
    assert long <= short


def test_missing_or_tiny_histories_give_no_flags_and_no_errors() -> None:
    assert backtest_flags({}, DetectionSettings()) == []
    one = random_history(1, minutes=1)
    assert backtest_flags(one, DetectionSettings()) == []
