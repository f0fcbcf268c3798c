"""pump_and_dump: a rise bought on heavy volume, flagged on the pump and told again when it dumps.

Reads ``pump_{30,60,300}``: the geometric mean of the rise (market share taken out, in the coin's
sigmas over the window) and the excess volume, scaled down unless takers are net buyers (a pump is
aggressive buying: La Morgia et al.'s "rush orders"), judged against the coin's own history.
Floors: price at least ``pump_min_pct`` above its 15-minute low, ``volume_min_usd`` traded in the
window, and ``pump_volume_ratio`` times the coin's usual volume for the window. The runner then
follows the event: when price gives back ``dump_retrace_frac`` of the rise within half an hour,
the same event gets a ``dump`` line; its severity stays the pump reading's own calibrated grade
(ordinary rises revert too, so a retrace alone is no second alarm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.levels import ratio
from virtuoso.detect.statistics import Scales, Window, buy_share, volume_ratio
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.PUMP_AND_DUMP
FOLLOW_S = 1_800  # how long after a pump opens its dump still escalates it


def floor_ratio(w: Window, th: DetectionSettings, rise_pct: Any, scales: Scales) -> Any:
    """The rise from the 15-minute low, the traded value, and the volume in the coin's own usual:
    a rise bought on ordinary volume is a price move, not a pump."""
    return np.fmin(np.fmin(ratio(rise_pct, th.pump_min_pct), ratio(w.turnover, th.volume_min_usd)),
                   ratio(volume_ratio(w, scales), th.pump_volume_ratio))


def direction(w: Window) -> Any:
    return np.ones(np.shape(w.ret_pct))


def retrace_frac(low: float, peak: float, close: float) -> float:
    """Share of the rise from ``low`` to ``peak`` given back at ``close`` (0 when there was no rise)."""
    rise = peak - low
    return (peak - close) / rise if rise > 0 else 0.0


def describe(i: int, w: Window, sc: Scales, stat: float, alarm: float, rise_pct: float) -> tuple[dict[str, Any], str]:
    r, share = float(volume_ratio(w, sc)[i]), float(buy_share(w)[i])
    values = {"window_s": w.seconds, "move_pct": float(w.ret_pct[i]), "rise_from_low_pct": rise_pct,
              "volume_ratio": r, "buy_share": share, "reading": stat, "alarm": alarm}
    tape = f", takers {words.share(share)} buyers" if np.isfinite(share) else ""
    line = (f"Price {words.pct(float(w.ret_pct[i]))} in {words.window(w.seconds)} ({words.pct(rise_pct)} from its 15-minute "
            f"low) on {words.times(r)} usual volume{tape}: {stat:.1f} on this coin's pump scale (alarm at {alarm:.1f})")
    return values, line


def describe_dump(rise_pct: float, given_back: float, minutes: float) -> tuple[dict[str, Any], str]:
    values = {"rise_pct": rise_pct, "retrace_frac": given_back, "minutes_since_pump": minutes}
    return values, f"Dump: gave back {words.share(given_back)} of a {rise_pct:.1f} % rise within {minutes:.0f} min"
