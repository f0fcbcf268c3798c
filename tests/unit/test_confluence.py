"""Confluence score: documented weights, bounded 0..100, direction from the trend, inclusive gate."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from virtuoso.domain.trades import PositionSide
from virtuoso.trading.confluence import (ConfluenceInputs, confluence, meets_entry_gate, WEIGHT_DETECTORS,
                                         WEIGHT_OI, WEIGHT_TREND, WEIGHT_VOLUME)


def test_the_weights_sum_to_one_hundred() -> None:
    assert WEIGHT_DETECTORS + WEIGHT_TREND + WEIGHT_VOLUME + WEIGHT_OI == 100


def test_full_evidence_scores_one_hundred_long_on_a_rise_and_short_on_a_fall() -> None:
    up = confluence(ConfluenceInputs(100, 2.5, 4.0, 5.0))
    down = confluence(ConfluenceInputs(100, -2.5, 4.0, 5.0))
    assert up.score == down.score == pytest.approx(100)
    assert up.direction == PositionSide.LONG and down.direction == PositionSide.SHORT


def test_each_component_contributes_its_documented_share() -> None:
    c = confluence(ConfluenceInputs(50, 1.0, 2.0, 1.5))
    assert (c.detectors, c.trend, c.volume, c.oi) == pytest.approx((20.0, 12.5, 7.5, 10.0))
    assert c.score == pytest.approx(50.0)


def test_unknown_values_score_zero_and_no_trend_means_no_direction() -> None:
    c = confluence(ConfluenceInputs(80, math.nan, math.nan, math.nan))
    assert c.score == pytest.approx(32.0) and c.direction is None


def test_falling_open_interest_and_low_volume_add_nothing() -> None:
    c = confluence(ConfluenceInputs(0, 0.5, 0.5, -4.0))
    assert c.volume == 0 and c.oi == 0


def test_the_gate_is_inclusive_at_the_minimum() -> None:
    assert meets_entry_gate(70.0, 70.0)
    assert not meets_entry_gate(69.99, 70.0)
    assert meets_entry_gate(70.01, 70.0)


finite_or_nan = st.floats(allow_nan=True, allow_infinity=True)


@given(finite_or_nan, finite_or_nan, finite_or_nan, finite_or_nan)
def test_the_score_is_always_between_zero_and_one_hundred(d: float, t: float, v: float, o: float) -> None:
    c = confluence(ConfluenceInputs(d, t, v, o))
    assert 0.0 <= c.score <= 100.0 + 1e-9
