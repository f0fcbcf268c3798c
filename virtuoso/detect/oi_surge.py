"""oi_surge: open interest building far faster than the coin's own usual, over 1 to 30 minutes.

Reads ``oi_{60,300,900,1800}``: the rise of open interest in multiples of its usual change over the
window (the 15 and 30 minute windows catch slow "stealth" builds), judged against the coin's own
history. Floor: open interest up at least ``oi_min_pct``.
"""

from __future__ import annotations

from typing import Any

import math

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.OI_SURGE


def floor_ratio(w: Window, th: DetectionSettings) -> Any:
    return ratio(w.oi_chg_pct, th.oi_min_pct)


def direction(w: Window) -> Any:
    # New positions with price: up when price rose with them, down when it fell, else none.
    return np.sign(np.where(np.abs(w.ret_pct) >= 0.1, w.ret_pct, 0.0))


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float) -> tuple[dict[str, Any], str]:
    usual = float(sc.oi_sigma_1m_pct[i]) * math.sqrt(w.seconds / 60.0)
    chg = float(w.oi_chg_pct[i])
    values = {"window_s": w.seconds, "oi_change_pct": chg, "usual_change_pct": usual, "multiple": stat,
              "alarm_multiple": alarm, "alarm_pct": alarm * usual, "price_change_pct": float(w.ret_pct[i])}
    line = (f"OI {words.pct(chg)} in {words.window(w.seconds)}: {words.times(stat)} this coin's usual "
            f"{words.window(w.seconds)} change (alarm at {words.pct(alarm * usual)}); price {words.pct(float(w.ret_pct[i]))}")
    return values, line
