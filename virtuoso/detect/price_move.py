"""price_move: an abrupt return judged against the symbol's own realised volatility.

Fires when the 1-minute or 5-minute return is at least ``price_move_sigma`` standard deviations
of the symbol's 1-minute returns (scaled by the square root of time) *and* at least
``price_move_min_pct`` percent, so a dead-calm coin cannot alert on a tick. A 5-minute move must
still be under way (the last minute goes the same way by a fifth of ``price_move_min_pct``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import MIN_SIGMA_PCT, Features
from virtuoso.detect.levels import rounded

KIND = "price_move"
_MID_SCALE = math.sqrt(5.0)
MOMENTUM_SHARE = 0.2


def level(f: Features, th: DetectionSettings) -> Any:
    sigma = np.maximum(f.sigma_1m_pct, MIN_SIGMA_PCT)
    short = np.minimum(np.abs(f.ret_short_pct) / sigma / th.price_move_sigma,
                       np.abs(f.ret_short_pct) / th.price_move_min_pct)
    mid = np.minimum(np.abs(f.ret_mid_pct) / (sigma * _MID_SCALE) / th.price_move_sigma,
                     np.abs(f.ret_mid_pct) / th.price_move_min_pct)
    # The 5-minute move must still be under way: its last minute goes the same way by a share of
    # the minimum move. Without it a move (or a pump's dump) that ended minutes ago alerted late,
    # once the volatility it had raised came back down.
    still_moving = f.ret_short_pct * np.sign(f.ret_mid_pct) / (MOMENTUM_SHARE * th.price_move_min_pct)
    return np.maximum(short, np.minimum(mid, still_moving))


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    sigma = max(float(f.sigma_1m_pct), MIN_SIGMA_PCT) if math.isfinite(float(f.sigma_1m_pct)) else math.nan
    return rounded(ret_1m_pct=f.ret_short_pct, ret_5m_pct=f.ret_mid_pct, sigma_1m_pct=sigma,
                   z_1m=abs(float(f.ret_short_pct)) / sigma if sigma == sigma else math.nan,
                   threshold_sigma=th.price_move_sigma, threshold_min_pct=th.price_move_min_pct)
