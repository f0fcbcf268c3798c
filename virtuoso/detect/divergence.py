"""oi_price_divergence: open interest and price moving apart, on the coin's own scales.

Open interest up while price falls (shorts crowding in), or open interest down while price rises
(shorts covering). Reads ``divergence_{300,900}``: the geometric mean of both legs, each in the
coin's own usual change (price after the market's share), judged against the coin's own history.
Floors: open interest moved at least ``oi_min_pct`` and price at least ``divergence_price_min_pct``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.OI_PRICE_DIVERGENCE


def floor_ratio(w: Window, th: DetectionSettings) -> Any:
    return np.fmin(ratio(np.abs(w.oi_chg_pct), th.oi_min_pct), ratio(np.abs(w.resid_pct), th.divergence_price_min_pct))


def direction(w: Window) -> Any:
    return np.sign(w.resid_pct)


def pattern(oi_chg_pct: float) -> str:
    return "shorts crowding in" if oi_chg_pct > 0 else "shorts covering"


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float) -> tuple[dict[str, Any], str]:
    oi, p = float(w.oi_chg_pct[i]), float(w.resid_pct[i])
    values = {"window_s": w.seconds, "oi_change_pct": oi, "price_change_pct": float(w.ret_pct[i]), "own_price_change_pct": p,
              "reading": stat, "alarm": alarm, "pattern": pattern(oi)}
    line = (f"OI {words.pct(oi)} while price {words.pct(p)} in {words.window(w.seconds)} ({pattern(oi)}): "
            f"{stat:.1f} on this coin's divergence scale (alarm at {alarm:.1f})")
    return values, line
