"""volume_spike: volume far above the symbol's robust baseline, over more than one window.

The fast window (30 s live, one minute in the backtest) must reach ``volume_spike_ratio`` times
the baseline for that length, and two minutes must reach half of it: one block print cannot raise
the alert on its own, a sustained burst does within about half a minute.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.detect.levels import rounded

KIND = "volume_spike"


def level(f: Features, th: DetectionSettings) -> Any:
    return np.minimum(f.vol_ratio_fast / th.volume_spike_ratio, f.vol_ratio_mid / (th.volume_spike_ratio / 2.0))


def evidence(f: Features, th: DetectionSettings) -> dict[str, Any]:
    return rounded(volume_ratio_fast=f.vol_ratio_fast, volume_ratio_2m=f.vol_ratio_mid,
                   threshold_ratio=th.volume_spike_ratio, baseline_min=th.volume_baseline_min)
