"""oi_surge: open interest up sharply over ``oi_window_s``, still rising, while price is not clearly falling.

The bar is the larger of ``oi_surge_pct`` and four times the symbol's own typical OI change over
the same window, so a coin whose open interest always churns is judged by its own noise. The
last minute must carry a share of that bar too (``MOMENTUM_SHARE``): a surge that has stopped
keeps the window's change high for minutes, and without it those leftover minutes raised late
alerts after the episode. The last minute alone also opens a watch when it carries ``FAST_SHARE``
of the bar (the window grades it higher). Rising OI with a falling price is left to
``oi_price_divergence``, so one episode gets one name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.detect.levels import EARLY_MAX_LEVEL, rounded

KIND = "oi_surge"
NOISE_MULTIPLE = 4.0
FIFTEEN_MIN_SCALE = 15.0 ** 0.5
FALLING_FLOOR_PCT = 0.3
# Share of the bar the last minute's OI change must reach (a steady rise over a 5-minute window
# puts a fifth of it in each minute; a surge speeds up at its start, so this rarely binds then).
MOMENTUM_SHARE = 0.2
# The last minute alone opens a watch at this share of the bar: twice the pace of a steady rise
# over the 5-minute window, so a surge is seen in its first minute, not when the window fills.
FAST_SHARE = 0.4


def effective_pct(f: Features, th: DetectionSettings) -> Any:
    return np.fmax(th.oi_surge_pct, NOISE_MULTIPLE * f.oi_noise_pct)


def falling_band_pct(f: Features, th: DetectionSettings) -> Any:
    """How far price may fall over 15 minutes and still count as not falling (noise included)."""
    # A fixed floor, not the divergence setting: raising a threshold must never add flags.
    return np.fmax(FALLING_FLOOR_PCT, 2.0 * f.sigma_1m_pct * FIFTEEN_MIN_SCALE)


def level(f: Features, th: DetectionSettings) -> Any:
    bar = effective_pct(f, th)
    window = np.minimum(f.oi_chg_pct / bar, f.oi_chg_short_pct / (MOMENTUM_SHARE * bar))
    early = np.minimum(f.oi_chg_short_pct / (FAST_SHARE * bar), EARLY_MAX_LEVEL)
    return np.where(f.ret_long_pct > -falling_band_pct(f, th), np.fmax(window, early), 0.0)


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    return rounded(oi_change_pct=f.oi_chg_pct, window_s=th.oi_window_s, oi_change_1m_pct=f.oi_chg_short_pct,
                   price_change_15m_pct=f.ret_long_pct,
                   oi_noise_pct=f.oi_noise_pct, threshold_pct=effective_pct(f, th))
