"""pump_and_dump: a rapid rise on a volume surge, flagged early, escalated when the dump comes.

The watch opens when price is ``pump_price_pct`` above its 15-minute low *and* volume over the
fastest window (30 s live, one minute in the backtest) is ``pump_volume_ratio`` times baseline,
with two minutes at half that (one block print is not a pump). The fast window matters: a pump's
volume builds up with it, and waiting for two full minutes at the ratio cost about a minute. The
runner then follows the episode: when price gives back ``dump_retrace_frac`` of the rise, the
same alert id is re-raised at high (critical when the pump itself was twice the threshold).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.detect.levels import rounded

KIND = "pump_and_dump"


def level(f: Features, th: DetectionSettings) -> Any:
    rising = np.where(f.ret_short_pct > 0, f.rise_pct / th.pump_price_pct, 0.0)
    volume = np.minimum(f.vol_ratio_fast / th.pump_volume_ratio, f.vol_ratio_mid / (th.pump_volume_ratio / 2.0))
    return np.minimum(rising, volume)


def retrace_frac(low: float, peak: float, close: float) -> float:
    """Share of the rise from ``low`` to ``peak`` given back at ``close`` (0 when there was no rise)."""
    rise = peak - low
    return (peak - close) / rise if rise > 0 else 0.0


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    return rounded(rise_pct=f.rise_pct, volume_ratio_fast=f.vol_ratio_fast, volume_ratio_2m=f.vol_ratio_mid,
                   threshold_rise_pct=th.pump_price_pct, threshold_volume_ratio=th.pump_volume_ratio,
                   dump_retrace_frac=th.dump_retrace_frac)
