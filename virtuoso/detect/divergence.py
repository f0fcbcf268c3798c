"""oi_price_divergence: open interest and price (or the tape) moving against each other.

Two readings, the larger wins:

* **Early**, within the last minute: open interest up ``divergence_oi_fast_pct`` (and at least
  ``FAST_NOISE_MULTIPLE`` times the symbol's own OI noise) while price is flat or falling (not up
  by more than one 1-minute sigma) and takers are not net buyers: shorts crowding in. Or open
  interest down as much while takers buy at least ``divergence_buy_share`` of the volume and price
  is not falling: shorts buying back, i.e. covering, before the price has had time to move much.
  The early reading opens a watch but cannot reach high on its own (``EARLY_MAX_LEVEL``).
* **Over 15 minutes**: OI up ``divergence_oi_pct`` while price falls beyond the flat band
  (``divergence_price_flat_pct``), or OI down as much while price rises beyond it. OI must still
  be moving over the last ``oi_window_s`` (a third of the bar) and the last minute (a fifteenth),
  so the change left behind by a finished OI episode does not keep raising divergences.

Either direction raises the same kind; the evidence says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import MIN_SIGMA_PCT, NET_BUYING_SHARE, Features
from virtuoso.detect.levels import EARLY_MAX_LEVEL, rounded

KIND = "oi_price_divergence"

STILL_MOVING_SHARE = 1.0 / 3.0
MOMENTUM_SHARE = 1.0 / 15.0
FAST_NOISE_MULTIPLE = 2.5  # the minute's OI change against the symbol's typical 5-minute change


def slow_level(f: Features, th: DetectionSettings) -> Any:
    """The 15-minute reading: OI against a price move beyond the flat band."""
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


def early_level(f: Features, th: DetectionSettings) -> Any:
    """The last minute's reading: OI against the tape while price has not moved with OI."""
    bar = np.fmax(th.divergence_oi_fast_pct, FAST_NOISE_MULTIPLE * f.oi_noise_pct)
    sigma = np.maximum(f.sigma_1m_pct, MIN_SIGMA_PCT)
    with np.errstate(invalid="ignore"):
        crowding = np.where((f.ret_short_pct <= sigma) & (f.buy_share_short <= NET_BUYING_SHARE),
                            f.oi_chg_short_pct / bar, 0.0)
        covering = np.where(f.ret_short_pct >= -sigma,
                            np.minimum(-f.oi_chg_short_pct / bar, f.buy_share_short / th.divergence_buy_share), 0.0)
    return np.minimum(np.fmax(crowding, covering), EARLY_MAX_LEVEL)


def level(f: Features, th: DetectionSettings) -> Any:
    return np.fmax(slow_level(f, th), early_level(f, th))


def _early_leads(f: Features, th: DetectionSettings) -> Any:
    with np.errstate(invalid="ignore"):
        return early_level(f, th) > slow_level(f, th)


def oi_falling(f: Features, th: DetectionSettings, early_leads: Any = None) -> Any:
    """Whether the reading that leads is the short-covering one (open interest falling).

    A market-wide rally squeezes shorts on every coin, so the runner demotes this pattern (not
    shorts crowding in) on the symbols moving with a market-wide move."""
    on_early = _early_leads(f, th) if early_leads is None else early_leads
    with np.errstate(invalid="ignore"):
        return np.where(on_early, f.oi_chg_short_pct, f.oi_chg_long_pct) < 0


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    ev = rounded(oi_change_15m_pct=f.oi_chg_long_pct, price_change_15m_pct=f.ret_long_pct,
                 oi_change_1m_pct=f.oi_chg_short_pct, price_change_1m_pct=f.ret_short_pct,
                 buy_share_1m=f.buy_share_short, threshold_oi_pct=th.divergence_oi_pct,
                 threshold_oi_1m_pct=th.divergence_oi_fast_pct, threshold_buy_share=th.divergence_buy_share,
                 flat_band_pct=th.divergence_price_flat_pct)
    on_early = _early_leads(f, th)
    ev["trigger"] = "1m" if bool(on_early) else "15m"
    ev["pattern"] = "short covering" if bool(oi_falling(f, th, on_early)) else "shorts crowding in"
    return ev
