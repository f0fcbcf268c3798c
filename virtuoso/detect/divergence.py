"""oi_price_divergence: open interest and price moving against each other over 15 minutes.

OI up at least ``divergence_oi_pct`` (and still rising over ``oi_window_s``) while price falls by more than the flat band
(``divergence_price_flat_pct``): new shorts crowding in. OI down by as much while price rises
beyond the band: shorts covering. Either direction raises the same kind; the evidence says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.detect.levels import rounded

KIND = "oi_price_divergence"


# OI must still be moving over the last oi_window_s (a third of the 15-minute bar) and over the
# last minute (a fifteenth), so the change left behind by a finished OI episode does not keep
# raising divergences for minutes after it.
STILL_MOVING_SHARE = 1.0 / 3.0
MOMENTUM_SHARE = 1.0 / 15.0


def level(f: Features, th: DetectionSettings) -> Any:
    flat = th.divergence_price_flat_pct
    now_bar = th.divergence_oi_pct * STILL_MOVING_SHARE
    minute_bar = th.divergence_oi_pct * MOMENTUM_SHARE
    up = np.minimum(np.minimum(f.oi_chg_long_pct / th.divergence_oi_pct, f.oi_chg_pct / now_bar),
                    f.oi_chg_short_pct / minute_bar)
    down = np.minimum(np.minimum(-f.oi_chg_long_pct / th.divergence_oi_pct, -f.oi_chg_pct / now_bar),
                      -f.oi_chg_short_pct / minute_bar)
    crowding = np.where(f.ret_long_pct <= -flat, up, 0.0)
    covering = np.where(f.ret_long_pct >= flat, down, 0.0)
    return np.maximum(crowding, covering)


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    ev = rounded(oi_change_15m_pct=f.oi_chg_long_pct, price_change_15m_pct=f.ret_long_pct,
                 threshold_oi_pct=th.divergence_oi_pct, flat_band_pct=th.divergence_price_flat_pct)
    ev["pattern"] = "shorts crowding in" if float(f.oi_chg_long_pct) > 0 else "short covering"
    return ev
