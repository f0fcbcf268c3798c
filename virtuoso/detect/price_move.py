"""price_move: an abrupt return judged against the symbol's own realised volatility.

Fires when the 1-minute or 5-minute return is at least ``price_move_sigma`` standard deviations
of the symbol's 1-minute returns (scaled by the square root of time) *and* at least
``price_move_min_pct`` percent, so a dead-calm coin cannot alert on a tick.
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


def level(f: Features, th: DetectionSettings) -> Any:
    sigma = np.maximum(f.sigma_1m_pct, MIN_SIGMA_PCT)
    z = np.maximum(np.abs(f.ret_short_pct) / sigma, np.abs(f.ret_mid_pct) / (sigma * _MID_SCALE))
    move = np.maximum(np.abs(f.ret_short_pct), np.abs(f.ret_mid_pct))
    return np.minimum(z / th.price_move_sigma, move / th.price_move_min_pct)


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    sigma = max(float(f.sigma_1m_pct), MIN_SIGMA_PCT) if math.isfinite(float(f.sigma_1m_pct)) else math.nan
    return rounded(ret_1m_pct=f.ret_short_pct, ret_5m_pct=f.ret_mid_pct, sigma_1m_pct=sigma,
                   z_1m=abs(float(f.ret_short_pct)) / sigma if sigma == sigma else math.nan,
                   threshold_sigma=th.price_move_sigma, threshold_min_pct=th.price_move_min_pct)
