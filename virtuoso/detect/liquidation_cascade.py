"""liquidation_cascade: clustered liquidations that move price and flush open interest.

All three must hold over the last minutes: liquidations in one minute of at least
``cascade_liq_usd`` and five times the symbol's usual liquidation flow, a price impact of
``cascade_price_impact_pct`` over five minutes, and open interest down ``cascade_oi_drop_pct``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.detect.levels import rounded

KIND = "liquidation_cascade"
BASELINE_MULTIPLE = 5.0


def liq_bar(f: Features, th: DetectionSettings) -> Any:
    return np.fmax(th.cascade_liq_usd, BASELINE_MULTIPLE * f.liq_baseline_usd)


def level(f: Features, th: DetectionSettings) -> Any:
    return np.minimum(
        np.minimum(f.liq_usd / liq_bar(f, th), np.abs(f.ret_mid_pct) / th.cascade_price_impact_pct),
        f.oi_drop_pct / th.cascade_oi_drop_pct,
    )


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    return rounded(liquidations_usd_1m=f.liq_usd, price_impact_5m_pct=f.ret_mid_pct, oi_drop_5m_pct=f.oi_drop_pct,
                   threshold_liq_usd=liq_bar(f, th), threshold_impact_pct=th.cascade_price_impact_pct,
                   threshold_oi_drop_pct=th.cascade_oi_drop_pct)
