"""pump_and_dump: a rapid rise on a volume surge, flagged early, escalated when the dump comes.

Two ways open the watch:

* **Early**, from the pump's first half-minute: price up ``pump_early_pct`` over 30 s (and more
  than two of the symbol's 1-minute sigmas, so a jumpy coin needs more), on volume at half of
  ``pump_volume_ratio`` times baseline over those 30 s, with takers buying at least
  ``pump_buy_share`` of it. Aggressive buying is what a pump is made of (the "rush orders" La
  Morgia et al. detect pumps by); a busy hour, a volume spike or a block print has volume but not
  that one-sided a tape *and* a rise. The early reading opens a watch but cannot reach high on its
  own (``EARLY_MAX_LEVEL``).
* **Confirmed**: price ``pump_price_pct`` above its 15-minute low while rising, on volume
  ``pump_volume_ratio`` times baseline over the fast window (30 s live, one minute in the
  backtest) and half that over two minutes (one block print is not a pump), with takers net
  buyers over the fast window and price above where it was 15 minutes ago. This one grows with
  the pump, so a large pump is high before it dumps.

The runner then follows the episode: when price gives back ``dump_retrace_frac`` of the rise, the
same alert id is re-raised at high (critical when the pump itself was twice the threshold).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import MIN_SIGMA_PCT, NET_BUYING_SHARE, Features
from virtuoso.detect.levels import EARLY_MAX_LEVEL, rounded

KIND = "pump_and_dump"
EARLY_SIGMAS_1M = 2.0  # the 30 s rise must also beat this many 1-minute sigmas of the symbol


def early_level(f: Features, th: DetectionSettings) -> Any:
    """The early reading: a 30 s rise on heavy, one-sided (buying) volume."""
    bar = np.fmax(th.pump_early_pct, EARLY_SIGMAS_1M * np.maximum(f.sigma_1m_pct, MIN_SIGMA_PCT))
    lvl = np.minimum(np.minimum(f.ret_fast_pct / bar, f.vol_ratio_fast / (th.pump_volume_ratio / 2.0)),
                     f.buy_share_fast / th.pump_buy_share)
    return np.minimum(lvl, EARLY_MAX_LEVEL)


def confirmed_level(f: Features, th: DetectionSettings) -> Any:
    """The confirmed reading: the rise from the 15-minute low on volume over two windows, bought.

    A rise on a tape where takers sell more than they buy (market makers re-quoting) is not a
    pump, whatever its size; nor is a bounce off a flush that leaves price below where it was a
    quarter hour ago (its "rise from the 15-minute low" is measured from the flush's bottom)."""
    with np.errstate(invalid="ignore"):
        bought = (f.ret_short_pct > 0) & (f.ret_long_pct > 0) & (f.buy_share_fast >= NET_BUYING_SHARE)
    rising = np.where(bought, f.rise_pct / th.pump_price_pct, 0.0)
    volume = np.minimum(f.vol_ratio_fast / th.pump_volume_ratio, f.vol_ratio_mid / (th.pump_volume_ratio / 2.0))
    return np.minimum(rising, volume)


def level(f: Features, th: DetectionSettings) -> Any:
    # fmax: a NaN early reading (no trades in the window, no history) leaves the confirmed one.
    return np.fmax(confirmed_level(f, th), early_level(f, th))


def retrace_frac(low: float, peak: float, close: float) -> float:
    """Share of the rise from ``low`` to ``peak`` given back at ``close`` (0 when there was no rise)."""
    rise = peak - low
    return (peak - close) / rise if rise > 0 else 0.0


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    early = float(early_level(f, th))
    ev = rounded(rise_pct=f.rise_pct, rise_30s_pct=f.ret_fast_pct, buy_share_30s=f.buy_share_fast,
                 volume_ratio_fast=f.vol_ratio_fast, volume_ratio_2m=f.vol_ratio_mid,
                 threshold_rise_pct=th.pump_price_pct, threshold_early_rise_pct=th.pump_early_pct,
                 threshold_buy_share=th.pump_buy_share, threshold_volume_ratio=th.pump_volume_ratio,
                 dump_retrace_frac=th.dump_retrace_frac)
    ev["trigger"] = "early" if math.isfinite(early) and early > float(confirmed_level(f, th)) else "confirmed"
    return ev
