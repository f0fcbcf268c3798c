"""Per-symbol features the detectors read, computed the same way in streaming and backtest mode.

A :class:`Features` holds plain floats (streaming: one symbol, one second, built by
:class:`virtuoso.detect.series.SecondSeries`) or numpy arrays (the runner stacks every symbol's
second into one; the backtest has one value per 1-minute bar). Every detector formula in
``virtuoso.detect`` is written with numpy operations on such arrays, so the live flags and the
slider preview come from one definition.

Windows (seconds in streaming, whole minutes in backtest): fast 30 s (one minute in backtest),
short 60 s, mid 300 s, long 900 s; open interest over ``oi_window_s``. Taker flow (the share of
traded volume that bought at the offer) is read over the fast and short windows. Baselines come from closed 1-minute bars *before* the short
window, so a spike never raises its own baseline, and are per symbol, so a quiet coin and BTC are
each judged against themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Sequence

import numpy as np

from virtuoso.domain.bars import Bar

SHORT_S = 60
MID_S = 300
LONG_S = 900
VOLUME_FAST_S = 30  # streaming only: the first half-minute of a spike already counts
SIGMA_BARS = 120  # 1-minute bars of realised volatility
RECENT_SIGMA_BARS = 15
MIN_SIGMA_PCT = 0.01  # floor so a perfectly flat history cannot divide by zero
RECENT_CLIP_SIGMAS = 3.0  # recent returns count at most this many (robust) sigmas in the recent std
# (at 4, the minutes of a pump or a market move a quarter hour back still held sigma up enough to
# miss a 1.5-2 % move right after them: price_move recall 0.90 -> 0.97 on the tuning seeds)
# At or below this taker buy share the tape is not net buying (the early pump reading needs more;
# shorts crowding in and the confirmed pump read it as a side, not a level).
NET_BUYING_SHARE = 0.5
MARKET_MOVE_SIGMAS = 2.0  # a return beyond this many sigmas of its window is a symbol's share of a market move


@dataclass(frozen=True, slots=True)
class Features:
    """Measured values; each field is a float (streaming) or an array (backtest)."""

    close: Any
    ret_short_pct: Any  # price change over the short window, %
    ret_mid_pct: Any
    ret_long_pct: Any
    rise_pct: Any  # close over the lowest close of the last LONG window, %
    sigma_1m_pct: Any  # realised volatility of 1-minute returns, %
    vol_ratio_fast: Any  # volume over the fastest window / baseline volume of that length
    vol_ratio_mid: Any  # the same over two minutes
    oi_chg_pct: Any  # open interest change over oi_window_s, %
    oi_chg_long_pct: Any  # over the long window, %
    oi_chg_short_pct: Any  # over the short window, %: is open interest still moving now?
    oi_drop_pct: Any  # fall of open interest over the mid window, % (positive = dropped)
    oi_noise_pct: Any  # typical absolute OI change over oi_window_s, from history, %
    liq_usd: Any  # liquidations (both sides) over the short window, USD
    liq_baseline_usd: Any  # typical liquidations per minute, USD
    market_moving: Any  # +1 / -1 when the 1- or 5-minute return is beyond MARKET_MOVE_SIGMAS (up /
    # down), else 0: the symbol's share of a market-wide move, used for market-wide demotion
    ret_fast_pct: Any  # price change over the fastest window (30 s live, one minute in backtest), %
    buy_share_fast: Any  # taker buy volume / all taker volume over the fastest window (NaN: no trades)
    buy_share_short: Any  # the same over the short window


@dataclass(frozen=True, slots=True)
class Baseline:
    """Per-symbol reference values from closed 1-minute bars, refreshed once a minute."""

    volume_per_s: float
    sigma_1m_pct: float
    oi_noise_pct: float
    liq_per_min_usd: float


def baseline_from_bars(bars: Sequence[Bar], volume_minutes: int, oi_window_min: int) -> Baseline:
    """Robust baselines: median minute volume, realised volatility, OI noise, liquidation level."""
    if not bars:
        return Baseline(math.nan, math.nan, math.nan, 0.0)
    # One pass over the bars into one array (columns: volume, close, OI, liquidated size).
    cols = np.array(list(map(_BASELINE_FIELDS, bars)), dtype=float).reshape(-1, 5)
    tail = cols[-volume_minutes:]
    return Baseline(
        volume_per_s=robust_level(tail[:, 0]) / 60.0,
        sigma_1m_pct=realised_sigma_pct(cols[-(SIGMA_BARS + 1):, 1]),
        oi_noise_pct=oi_noise_pct(cols[:, 2], oi_window_min),
        liq_per_min_usd=clipped_mean((tail[:, 3] + tail[:, 4]) * tail[:, 1]),
    )


_BASELINE_FIELDS = attrgetter("volume", "close", "open_interest", "long_liq_volume", "short_liq_volume")


def _median(values: np.ndarray) -> float:
    """``np.median`` of a small 1-D array, by partition: the same value at a fraction of the per-call
    cost (baselines of every symbol are refreshed in the same second, on the alert path)."""
    n = values.size
    if n == 0 or np.isnan(values).any():
        return math.nan
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2.0)


def robust_level(values: np.ndarray) -> float:
    """Median, but never below a fifth of the mean (a coin that mostly sleeps still has a level)."""
    if values.size == 0:
        return math.nan
    return float(max(_median(values), 0.2 * values.mean()))


def clipped_mean(values: np.ndarray) -> float:
    """Mean with each value capped at the 90th percentile: the usual level, not the last cascade."""
    if values.size == 0:
        return 0.0
    # The 90th percentile by linear interpolation on the sorted values (numpy's default method,
    # without np.percentile's per-call overhead, which was most of a minute's baseline refresh).
    ranked = np.sort(values)
    k = 0.9 * (ranked.size - 1)
    lo = int(k)
    hi = min(lo + 1, ranked.size - 1)
    p90 = ranked[lo] + (ranked[hi] - ranked[lo]) * (k - lo)
    return float(np.minimum(values, p90).mean())


def realised_sigma_pct(closes: np.ndarray) -> float:
    ok = closes[np.isfinite(closes) & (closes > 0)]
    if ok.size < 3:
        return math.nan
    r = np.diff(np.log(ok)) * 100.0
    # Robust (MAD) over two hours, so one earlier jump does not hide the next; but never below the
    # deviation of the last quarter hour, so a busy-but-normal hour raises the bar at once. That
    # recent deviation is taken on returns clipped at RECENT_CLIP_SIGMAS robust sigmas: a busy
    # hour's many moderate returns raise it, but a pump's or a move's few huge ones do not, which
    # left the bar at several percent for a quarter hour and hid the next move.
    mad_sigma = max(1.4826 * _median(np.abs(r - _median(r))), MIN_SIGMA_PCT)
    clip = RECENT_CLIP_SIGMAS * mad_sigma
    recent = np.clip(r[-RECENT_SIGMA_BARS:], -clip, clip).std() if r.size >= 3 else 0.0
    return float(max(mad_sigma, recent))


def moving_sign(ret_short_pct: Any, ret_mid_pct: Any, sigma_1m_pct: Any) -> Any:
    """+1 / -1 where the 1-minute return is beyond MARKET_MOVE_SIGMAS sigmas (or else the 5-minute
    one beyond as many sigmas of five minutes), 0 where neither is (or sigma is unknown).

    Both windows, as in ``price_move``: a symbol that jumps within a minute is part of a market move
    before its 5-minute return shows it."""
    with np.errstate(invalid="ignore"):
        short = np.abs(ret_short_pct) >= MARKET_MOVE_SIGMAS * sigma_1m_pct
        mid = np.abs(ret_mid_pct) >= MARKET_MOVE_SIGMAS * sigma_1m_pct * math.sqrt(5.0)
        sign = np.where(short, np.sign(ret_short_pct), np.where(mid, np.sign(ret_mid_pct), 0.0))
    return np.nan_to_num(sign, nan=0.0)


def oi_noise_pct(ois: np.ndarray, window_min: int) -> float:
    """Typical size of an OI change over the window: a robust spread (MAD scaled to a sigma)."""
    ois = ois[np.isfinite(ois) & (ois > 0)]
    w = max(1, window_min)
    if ois.size <= w + 2:
        return math.nan
    chg = (ois[w:] / ois[:-w] - 1.0) * 100.0
    mad = _median(np.abs(chg - _median(chg)))
    return float(1.4826 * mad)

