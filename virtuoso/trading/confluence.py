"""Confluence score (pure): how strongly independent evidence agrees on one symbol, 0 to 100.

Components and weights (they sum to 100):

=================  ======  ==================================================================
component          weight  full marks when
=================  ======  ==================================================================
detectors          40      the detectors' composite score, or the best alert score of the last
                           15 minutes for the symbol, is 100 (linear below)
trend              25      the price has moved TREND_FULL_PCT (2 %) over the trend window
volume             15      volume runs VOLUME_FULL_RATIO (3x) its baseline (0 at 1x or below)
open interest      20      open interest rose OI_FULL_PCT (3 %): new positions back the move
=================  ======  ==================================================================

The direction is the trend's sign (long on a rise, short on a fall); without a measurable trend
there is no direction and no entry. :func:`meets_entry_gate` is the one place
``min_confluence_score`` is compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from virtuoso.domain.trades import PositionSide

WEIGHT_DETECTORS = 40.0
WEIGHT_TREND = 25.0
WEIGHT_VOLUME = 15.0
WEIGHT_OI = 20.0
TREND_FULL_PCT = 2.0
VOLUME_FULL_RATIO = 3.0
OI_FULL_PCT = 3.0


@dataclass(frozen=True, slots=True)
class ConfluenceInputs:
    """Measured values; NaN means unknown and scores 0 for that component."""

    detector_score: float  # 0..100: max(composite score, recent alert scores)
    trend_pct: float  # price change over the trend window, percent
    volume_ratio: float  # recent volume / baseline volume
    oi_change_pct: float  # open-interest change over the trend window, percent


@dataclass(frozen=True, slots=True)
class Confluence:
    score: float  # 0..100
    direction: PositionSide | None
    detectors: float  # each component's points, summing to ``score``
    trend: float
    volume: float
    oi: float

    def to_dict(self) -> dict[str, object]:
        return {"score": round(self.score, 2), "direction": self.direction.value if self.direction else None,
                "detectors": round(self.detectors, 2), "trend": round(self.trend, 2),
                "volume": round(self.volume, 2), "oi": round(self.oi, 2)}


def _unit(x: float) -> float:
    if not math.isfinite(x):
        return 0.0
    return min(1.0, max(0.0, x))


def confluence(inputs: ConfluenceInputs) -> Confluence:
    """Weighted sum of the four components; see the module docstring for the weights."""
    det = WEIGHT_DETECTORS * _unit(inputs.detector_score / 100.0)
    trend = WEIGHT_TREND * _unit(abs(inputs.trend_pct) / TREND_FULL_PCT)
    vol = WEIGHT_VOLUME * _unit((inputs.volume_ratio - 1.0) / (VOLUME_FULL_RATIO - 1.0))
    oi = WEIGHT_OI * _unit(inputs.oi_change_pct / OI_FULL_PCT)
    direction = None
    if math.isfinite(inputs.trend_pct) and inputs.trend_pct != 0:
        direction = PositionSide.LONG if inputs.trend_pct > 0 else PositionSide.SHORT
    # Not rounded: the gate must see 69.996 as below 70. Round only for display.
    return Confluence(det + trend + vol + oi, direction, det, trend, vol, oi)


def meets_entry_gate(score: float, min_confluence_score: float) -> bool:
    """Entries need ``score >= min_confluence_score`` (inclusive)."""
    return score >= min_confluence_score
