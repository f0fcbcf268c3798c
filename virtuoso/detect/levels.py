"""The common level scale: every reading is "how far past its alarm", so every kind grades the same.

A level of 1.0 is exactly at the watch alarm, 1.6 at high, 2.5 at critical (the calibrated levels
of :mod:`virtuoso.detect.calibration` map onto these); score 50 at the watch alarm, 75 at twice it,
100 at four times. A floor (an absolute minimum move, set by the user) caps the level below 1 until
it is met, so raising a floor can only take alerts away.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from virtuoso.domain.alerts import Severity

HIGH_LEVEL = 1.6
CRITICAL_LEVEL = 2.5
BELOW_FLOOR = 0.99  # a reading short of its floor stays just under the watch alarm at most


def severity_for(level: float) -> Severity:
    if level >= CRITICAL_LEVEL:
        return Severity.CRITICAL
    if level >= HIGH_LEVEL:
        return Severity.HIGH
    if level >= 1.0:
        return Severity.WATCH
    return Severity.INFO


def score_for(level: float) -> float:
    """0-100, monotone in the level; 50 at the threshold."""
    if not level > 0:
        return 0.0
    return max(0.0, min(100.0, 50.0 + 25.0 * math.log2(level)))


def floored(level: Any, floor_ratio: Any) -> Any:
    """``level`` where the floor is met (``floor_ratio`` = measured / floor >= 1), else at most
    BELOW_FLOOR times the share of the floor reached. NaN (no level yet) reads as 0."""
    lv = np.asarray(level, dtype=float)
    fr = np.asarray(floor_ratio, dtype=float)
    capped = np.where(fr >= 1.0, lv, np.fmin(lv, BELOW_FLOOR * np.fmax(fr, 0.0)))
    return np.where(capped > 0, capped, 0.0)  # NaN and negatives read as 0


def ratio(value: Any, floor: float) -> Any:
    """measured / floor, +inf for a zero floor (always met)."""
    if floor <= 0:
        return np.full(np.shape(value), np.inf)
    return np.asarray(value, dtype=float) / floor
