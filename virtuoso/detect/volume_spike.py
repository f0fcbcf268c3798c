"""volume_spike: trading far above the coin's usual that neither its price action nor the market explains.

Reads ``volume_{60,300}``: the log of traded value (block trades and the window's largest print left
out, so one print cannot make a spike) over the coin's usual for the window, less what the window's
price range explains and less what the rest of the market traded more; judged against the coin's
own history of it. Floor: at least ``volume_min_usd`` traded in the window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window, price_activity, volume_ratio
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.VOLUME_SPIKE


def floor_ratio(w: Window, th: DetectionSettings) -> Any:
    return ratio(w.turnover, th.volume_min_usd)


def direction(w: Window) -> Any:
    return np.zeros(np.shape(w.turnover))


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float) -> tuple[dict[str, Any], str]:
    r = float(volume_ratio(w, sc)[i])
    act = float(price_activity(w, sc)[i])
    market = w.volume_market[i]
    market_x = math.exp(max(0.0, float(market))) if np.isfinite(market) else 1.0
    alarm_x = math.exp(alarm) * act * market_x
    values = {"window_s": w.seconds, "traded_usd": float(w.turnover[i]), "volume_ratio": r,
              "alarm_ratio": alarm_x, "price_activity": act, "market_volume_ratio": market_x}
    line = (f"Volume {words.usd(float(w.turnover[i]))} in {words.window(w.seconds)}: {words.times(r)} this coin's usual "
            f"(alarm at {words.times(alarm_x)} with this price action and market)")
    return values, line
