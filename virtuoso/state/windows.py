"""Pure window arithmetic over 1-minute bars, used for :class:`SymbolSnapshot` fields.

Bars are closed 1-minute bars, oldest first, possibly with gaps (history seeded from the store).
"""

from __future__ import annotations

import bisect
import statistics
from typing import Sequence

from virtuoso.domain.bars import Bar

NAN = float("nan")
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def bar_at_or_before(bars: Sequence[Bar], ts_ms: int) -> Bar | None:
    """The newest bar whose end is at or before ``ts_ms``; None when history does not reach back."""
    if not bars or bars[0].start_ms > ts_ms:
        return None
    i = bisect.bisect_right(bars, ts_ms, key=lambda b: b.end_ms)
    return bars[i - 1] if i > 0 else None


def change_pct(bars: Sequence[Bar], now_ms: int, lookback_ms: int, price_now: float) -> float:
    """Percent change of ``price_now`` against the close ``lookback_ms`` ago (NaN if unknown).

    The reference is the close of the newest bar ending at or before ``now_ms - lookback_ms``; if
    the retained history starts after that instant the answer is NaN rather than a shorter change.
    """
    ref = bar_at_or_before(bars, now_ms - lookback_ms)
    if ref is None or not ref.close or ref.close != ref.close or price_now != price_now:
        return NAN
    return (price_now / ref.close - 1.0) * 100.0


def oi_change_pct(bars: Sequence[Bar], now_ms: int, lookback_ms: int, oi_now: float) -> float:
    """Percent change of open interest against its last value ``lookback_ms`` ago (NaN if unknown)."""
    ref = bar_at_or_before(bars, now_ms - lookback_ms)
    if ref is None or not ref.open_interest or ref.open_interest != ref.open_interest or oi_now != oi_now:
        return NAN
    return (oi_now / ref.open_interest - 1.0) * 100.0


def volume_since(bars: Sequence[Bar], since_ms: int) -> float:
    """Sum of volume of bars starting at or after ``since_ms``."""
    i = bisect.bisect_left(bars, since_ms, key=lambda b: b.start_ms)
    return float(sum(b.volume for b in bars[i:]))


def hourly_volume_baseline(bars: Sequence[Bar], min_hours: int = 2) -> float:
    """Median of hourly volumes over consecutive 60-bar blocks, newest first; NaN with fewer than ``min_hours``."""
    n_hours = len(bars) // 60
    if n_hours < min_hours:
        return NAN
    vols = [b.volume for b in bars]
    hours = [sum(vols[len(vols) - (h + 1) * 60: len(vols) - h * 60]) for h in range(n_hours)]
    return float(statistics.median(hours))
