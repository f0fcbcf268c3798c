"""Streaming features: per-symbol one-second history kept by the detection runner.

The runner pushes each closed 1-second bar once; windows are read as differences of running sums,
so a second costs the same whatever the window length. Baselines come from closed 1-minute bars
and are refreshed once a minute (:func:`virtuoso.detect.features.baseline_from_bars`).
"""

from __future__ import annotations

import math
from collections import deque

from virtuoso.detect.features import (
    LONG_S,
    MARKET_MOVE_SIGMAS,
    MID_S,
    SHORT_S,
    VOLUME_FAST_S,
    Baseline,
    Features,
)
from virtuoso.domain.bars import Bar

CAPACITY_S = 1_800
_NAN = math.nan
_INF = math.inf
_SQRT5 = math.sqrt(5.0)


def pct(new: float, old: float) -> float:
    """Percent change from ``old`` to ``new`` with numpy's float division semantics (x/0 is +-inf,
    0/0 is NaN), in plain floats: numpy costs microseconds per scalar, and this runs 8 times per
    symbol per second."""
    try:
        return (new / old - 1.0) * 100.0
    except ZeroDivisionError:
        return _NAN if new == 0.0 or new != new else math.copysign(_INF, new) * math.copysign(1.0, old)
    except OverflowError:
        return math.copysign(_INF, new) * math.copysign(1.0, old)


def moving_sign(ret_short_pct: float, ret_mid_pct: float, sigma_1m_pct: float) -> float:
    """:func:`virtuoso.detect.features.moving_sign` in plain floats (numpy costs microseconds per
    scalar call); a property test holds the two equal."""
    if sigma_1m_pct == sigma_1m_pct:
        if abs(ret_short_pct) >= MARKET_MOVE_SIGMAS * sigma_1m_pct:
            return math.copysign(1.0, ret_short_pct)
        if abs(ret_mid_pct) >= MARKET_MOVE_SIGMAS * sigma_1m_pct * _SQRT5:
            return math.copysign(1.0, ret_mid_pct)
    return 0.0


def ratio(num: float, den: float) -> float:
    """``num / den``, 0 where the division is not finite (no baseline yet, or an empty one)."""
    try:
        out = num / den
    except (ZeroDivisionError, OverflowError):
        return 0.0
    return out if -_INF < out < _INF else 0.0


class SecondSeries:
    """Closes, cumulative volume (all, taker buys, taker sells) and liquidations, and open interest,
    one entry per second."""

    def __init__(self, capacity_s: int = CAPACITY_S) -> None:
        self.capacity_s = max(capacity_s, LONG_S + 1)
        self.last_start_ms = -1
        self.close: list[float] = []
        self.cum_volume: list[float] = []
        self.cum_buy: list[float] = []
        self.cum_sell: list[float] = []
        self.cum_liq_usd: list[float] = []
        self.oi: list[float] = []
        self._vol = self._buy = self._sell = 0.0
        self._liq = 0.0
        # Rolling extremes as monotonic queues of (push number, value): the 15-minute low of the
        # close and the 5-minute peak of open interest in O(1) a second. A min() over 901 closes
        # was most of a second's detection cost (40 us a symbol).
        self._pushes = 0
        self._lows: deque[tuple[int, float]] = deque()
        self._oi_peaks: deque[tuple[int, float]] = deque()

    def __len__(self) -> int:
        return len(self.close)

    def push(self, bar: Bar) -> None:
        """Append a closed 1-second bar (older or repeated bars are ignored)."""
        if bar.start_ms <= self.last_start_ms:
            return
        self.last_start_ms = bar.start_ms
        self._vol += bar.volume
        self._buy += bar.buy_volume
        self._sell += bar.sell_volume
        self._liq += (bar.long_liq_volume + bar.short_liq_volume) * bar.close
        self.close.append(bar.close)
        self.cum_volume.append(self._vol)
        self.cum_buy.append(self._buy)
        self.cum_sell.append(self._sell)
        self.cum_liq_usd.append(self._liq)
        self.oi.append(bar.open_interest)
        i = self._pushes
        self._pushes += 1
        _keep_extreme(self._lows, i, bar.close, LONG_S + 1, lowest=True)
        _keep_extreme(self._oi_peaks, i, bar.open_interest, MID_S + 1, lowest=False)
        if len(self.close) > self.capacity_s + 300:  # trim in chunks, not every second
            cut = len(self.close) - self.capacity_s
            del self.close[:cut], self.cum_volume[:cut], self.cum_liq_usd[:cut], self.oi[:cut]
            del self.cum_buy[:cut], self.cum_sell[:cut]

    @property
    def low(self) -> float:
        """Lowest close of the last LONG_S + 1 seconds (NaN closes ignored; NaN if none)."""
        return self._lows[0][1] if self._lows else _NAN

    @property
    def oi_peak(self) -> float:
        """Highest open interest of the last MID_S + 1 seconds (NaN values ignored; NaN if none)."""
        return self._oi_peaks[0][1] if self._oi_peaks else _NAN

    def _ago(self, values: list[float], seconds: int) -> float:
        """The value ``seconds`` before the newest (the oldest kept if history is shorter)."""
        n = len(values)
        return values[max(0, n - 1 - seconds)] if n else _NAN

    def features(self, base: Baseline, oi_window_s: int) -> Features:
        """Features at the newest second (NaN where history is too short to say)."""
        n = len(self.close)
        if n < 2:
            nan = _NAN
            return Features(nan, nan, nan, nan, nan, base.sigma_1m_pct, 0.0, 0.0, nan, nan, nan, nan,
                            base.oi_noise_pct, 0.0, base.liq_per_min_usd, 0.0, nan, nan, nan)
        close = self.close[-1]
        ago = self._ago
        ret_short = pct(close, ago(self.close, SHORT_S))
        ret_mid = pct(close, ago(self.close, MID_S))
        low = self.low
        vps = base.volume_per_s
        cv = self.cum_volume
        vol_fast = cv[-1] - ago(cv, VOLUME_FAST_S)
        vol_mid = cv[-1] - ago(cv, 2 * SHORT_S)
        oi = self.oi[-1]
        oi_peak = self.oi_peak
        sigma = base.sigma_1m_pct
        moving = moving_sign(ret_short, ret_mid, sigma)
        return Features(
            close=close,
            ret_short_pct=ret_short,
            ret_mid_pct=ret_mid,
            ret_long_pct=pct(close, ago(self.close, LONG_S)),
            rise_pct=pct(close, low),
            sigma_1m_pct=sigma,
            vol_ratio_fast=ratio(vol_fast, min(n - 1, VOLUME_FAST_S) * vps),
            vol_ratio_mid=ratio(vol_mid, min(n - 1, 2 * SHORT_S) * vps),
            oi_chg_pct=pct(oi, ago(self.oi, oi_window_s)),
            oi_chg_long_pct=pct(oi, ago(self.oi, LONG_S)),
            oi_chg_short_pct=pct(oi, ago(self.oi, SHORT_S)),
            oi_drop_pct=-pct(oi, oi_peak) if oi_peak == oi_peak else _NAN,
            oi_noise_pct=base.oi_noise_pct,
            liq_usd=self.cum_liq_usd[-1] - ago(self.cum_liq_usd, SHORT_S),
            liq_baseline_usd=base.liq_per_min_usd,
            market_moving=moving,
            ret_fast_pct=pct(close, ago(self.close, VOLUME_FAST_S)),
            buy_share_fast=self._buy_share(VOLUME_FAST_S),
            buy_share_short=self._buy_share(SHORT_S),
        )

    def _buy_share(self, seconds: int) -> float:
        """Taker buy volume over all taker volume in the last ``seconds`` (NaN without trades)."""
        buy = self.cum_buy[-1] - self._ago(self.cum_buy, seconds)
        total = buy + self.cum_sell[-1] - self._ago(self.cum_sell, seconds)
        return buy / total if total > 0 else _NAN


def _keep_extreme(queue: deque[tuple[int, float]], i: int, value: float, window: int, lowest: bool) -> None:
    """Push ``value`` (push number ``i``) into a monotonic queue whose head is the extreme of the
    last ``window`` pushes: drop the values it beats, then the ones that left the window."""
    if value == value:  # NaN neither beats nor is kept
        if lowest:
            while queue and queue[-1][1] >= value:
                queue.pop()
        else:
            while queue and queue[-1][1] <= value:
                queue.pop()
        queue.append((i, value))
    while queue and queue[0][0] <= i - window:
        queue.popleft()
