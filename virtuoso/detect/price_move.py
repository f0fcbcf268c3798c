"""price_move: an abrupt move of one coin that the rest of the market does not explain.

Reads ``price_{60,300,900}``: the market-adjusted return over 1, 5 and 15 minutes in sigmas of the
coin's own volatility over that window, judged against the coin's own history of it. Floor: the
adjusted move is at least ``price_move_min_pct``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window, sigma_over
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.PRICE_MOVE


def floor_ratio(w: Window, th: DetectionSettings) -> Any:
    return ratio(np.abs(w.resid_pct), th.price_move_min_pct)


def direction(w: Window) -> Any:
    return np.sign(w.resid_pct)


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float) -> tuple[dict[str, Any], str]:
    sigma = float(sigma_over(sc, w.seconds)[i])
    ret, resid = float(w.ret_pct[i]), float(w.resid_pct[i])
    values = {"window_s": w.seconds, "move_pct": ret, "own_move_pct": resid, "usual_move_pct": sigma,
              "sigmas": stat, "alarm_sigmas": alarm, "alarm_pct": alarm * sigma}
    market = "" if abs(ret - resid) < 0.05 * abs(ret) else f", {words.pct(resid)} after the market's share"
    line = (f"Price {words.pct(ret)} in {words.window(w.seconds)}{market}: {words.times(stat)} this coin's usual "
            f"{words.window(w.seconds)} move (alarm at {words.times(alarm)}, about {abs(alarm * sigma):.2f} %)")
    return values, line
