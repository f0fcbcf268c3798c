"""liquidation_cascade: forced selling (or buying) far beyond the coin's usual, moving price, flushing OI.

Reads ``liquidation_60``: the log of the last minute's liquidations over the coin's usual (less the
rest of the market's), scaled down unless price moved two sigmas over five minutes with it, judged
against the coin's own history. Floors: at least ``cascade_liq_usd`` liquidated in the minute and
open interest down at least ``cascade_oi_drop_pct`` over five minutes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.LIQUIDATION_CASCADE


def floor_ratio(w: Window, th: DetectionSettings, oi_chg_5m_pct: Any) -> Any:
    drop = ratio(-np.asarray(oi_chg_5m_pct, dtype=float), th.cascade_oi_drop_pct) if th.cascade_oi_drop_pct > 0 else np.inf
    return np.fmin(ratio(w.liq, th.cascade_liq_usd), drop)


def direction(w: Window) -> Any:
    # Longs liquidated push price down.
    with np.errstate(invalid="ignore"):
        return np.where(w.liq_long * 2 >= w.liq, -1.0, 1.0)


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float, impact: Window) -> tuple[dict[str, Any], str]:
    liq, longs = float(w.liq[i]), float(w.liq_long[i])
    usual = float(sc.liq_per_min[i]) * w.seconds / 60.0
    long_share = longs / liq if liq > 0 else float("nan")
    values = {"window_s": w.seconds, "liquidations_usd": liq, "long_share": long_share, "usual_usd": usual,
              "price_change_5m_pct": float(impact.ret_pct[i]), "oi_change_5m_pct": float(impact.oi_chg_pct[i]),
              "reading": stat, "alarm": alarm}
    side = f"{words.share(long_share)} longs" if np.isfinite(long_share) else "sides unknown"
    line = (f"Liquidations {words.usd(liq)} in {words.window(w.seconds)} ({side}), usual {words.usd(usual)}; price "
            f"{words.pct(float(impact.ret_pct[i]))} and OI {words.pct(float(impact.oi_chg_pct[i]))} in 5 min "
            f"({stat:.1f} on this coin's cascade scale, alarm at {alarm:.1f})")
    return values, line
