"""Threshold backtest (pure, vectorised): which flags would these thresholds have raised?

Used by the dashboard every time a slider moves, on the recorded 1-minute history. The features
are the streaming ones with windows in whole minutes (short = 1 bar, mid = 5, long = 15, open
interest over ``oi_window_s`` rounded to minutes; baselines end two bars back, as the streaming
runner's do at a minute boundary), and the same detector formulas (``virtuoso.detect.<kind>``)
turn them into levels. A flag is an episode: the first minute at or above the threshold, then
nothing more for that symbol and kind during ``cooldown_s`` (greedy cover, so raising any
threshold can never add flags); its severity is the highest level inside that span. Market-wide
moves demote the kinds they explain, as live. Streaming-only refinements (sub-minute windows, the
pump's dump escalation) make live alerts earlier, not different in kind; the agreement test in
``tests/property/test_backtest_properties.py`` replays a stream both ways and compares episodes.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Mapping, Sequence

import bottleneck as bn
import numpy as np
import pandas as pd

from virtuoso.alerting.policy import MIN_SYMBOLS_FOR_MARKET_WIDE
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect.features import (
    MIN_SIGMA_PCT,
    RECENT_CLIP_SIGMAS,
    RECENT_SIGMA_BARS,
    SIGMA_BARS,
    Features,
    moving_sign,
)
from virtuoso.detect.levels import score_for, severity_for
from virtuoso.detect.registry import DETECTORS, market_explained
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.domain.bars import Bar

_BASELINE_LAG = 2  # bars: the baseline ends before the short window, as in streaming


@dataclass(frozen=True, slots=True)
class Flag:
    symbol: str
    kind: AlertKind
    severity: Severity
    ts_ms: int
    score: float


def minute_features(bars_by_symbol: Mapping[str, Sequence[Bar]], th: DetectionSettings) -> tuple[np.ndarray, list[str], Features]:
    """(bar end times in ms, symbols, features as 2-D arrays: one row per minute, one column per symbol).

    All symbols are computed at once on a common minute grid (missing minutes are NaN), so the
    cost is a few dozen vectorised rolling operations whatever the watchlist size.
    """
    frames = {}
    for symbol, bars in bars_by_symbol.items():
        if len(bars) < 2:
            continue
        rows = np.array([(b.start_ms + b.interval_s * 1000, b.close, b.volume, b.open_interest,
                          (b.long_liq_volume + b.short_liq_volume) * b.close, b.buy_volume, b.sell_volume)
                         for b in bars], dtype=float)
        frames[symbol] = pd.DataFrame(rows[:, 1:], index=rows[:, 0].astype(np.int64),
                                      columns=["c", "v", "oi", "liq", "buy", "sell"])
    if not frames:
        return np.empty(0, dtype=np.int64), [], Features(*([np.empty((0, 0))] * len(dataclass_fields(Features))))
    wide = pd.concat(frames, axis=1).sort_index()
    wide = wide[~wide.index.duplicated(keep="last")]
    c, v, oi, liq, buy, sell = (wide.xs(k, axis=1, level=1) for k in ("c", "v", "oi", "liq", "buy", "sell"))
    symbols = list(c.columns)
    base_n = max(1, int(th.volume_baseline_min))
    oi_w = max(1, int(th.oi_window_s) // 60)
    lag = _BASELINE_LAG

    def pct(x: pd.DataFrame, y: pd.DataFrame) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((x / y - 1.0) * 100.0).to_numpy()

    med = _rolling_median(v, base_n, 1)
    mean = v.rolling(base_n, min_periods=1).mean()
    base = np.maximum(med, 0.2 * mean).shift(lag)
    r = np.log(c.where(c > 0)).diff() * 100.0
    r_med = _rolling_median(r, SIGMA_BARS, 3)
    mad_sigma = np.maximum(1.4826 * _rolling_median((r - r_med).abs(), SIGMA_BARS, 3), MIN_SIGMA_PCT)
    # The recent deviation on returns clipped at RECENT_CLIP_SIGMAS of the robust sigma ending at the
    # same bar, as features.realised_sigma_pct does (each return clipped by the newest bar's sigma).
    recent = _rolling_clipped_std(r, RECENT_CLIP_SIGMAS * mad_sigma, RECENT_SIGMA_BARS)
    sigma = np.maximum(mad_sigma, recent).shift(lag)
    oi_chg = pd.DataFrame(pct(oi, oi.shift(oi_w)), index=oi.index, columns=oi.columns)
    noise = 1.4826 * _rolling_median((oi_chg - _rolling_median(oi_chg, base_n, 3)).abs(), base_n, 3)
    liq_cap = liq.rolling(base_n, min_periods=1).quantile(0.9)
    liq_base = np.minimum(liq, liq_cap).rolling(base_n, min_periods=1).mean().shift(lag)
    oi_peak = oi.rolling(6, min_periods=1).max()
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_fast = (v / base).to_numpy()
        vol_mid = ((v + v.shift(1)) / (2.0 * base)).to_numpy()
        # Taker buy share of the bar; the fastest window and the short one are both one bar here.
        buy_share = (buy / (buy + sell)).to_numpy()
    ret_short = pct(c, c.shift(1))
    ret_mid = pct(c, c.shift(5))
    sig = sigma.to_numpy()
    f = Features(
        close=c.to_numpy(),
        ret_short_pct=ret_short,
        ret_mid_pct=ret_mid,
        ret_long_pct=pct(c, c.shift(15)),
        rise_pct=pct(c, c.rolling(16, min_periods=1).min()),
        sigma_1m_pct=sig,
        vol_ratio_fast=np.nan_to_num(vol_fast, nan=0.0, posinf=0.0),
        vol_ratio_mid=np.nan_to_num(vol_mid, nan=0.0, posinf=0.0),
        oi_chg_pct=oi_chg.to_numpy(),
        oi_chg_long_pct=pct(oi, oi.shift(15)),
        oi_chg_short_pct=pct(oi, oi.shift(1)),
        oi_drop_pct=-pct(oi, oi_peak),
        oi_noise_pct=noise.shift(lag).to_numpy(),
        liq_usd=liq.fillna(0.0).to_numpy(),
        liq_baseline_usd=liq_base.fillna(0.0).to_numpy(),
        market_moving=moving_sign(ret_short, ret_mid, sig),
        ret_fast_pct=ret_short,
        buy_share_fast=buy_share,
        buy_share_short=buy_share,
    )
    return wide.index.to_numpy(dtype=np.int64), symbols, f


def _rolling_median(x: pd.DataFrame, window: int, min_periods: int) -> pd.DataFrame:
    """``x.rolling(window, min_periods).median()`` per column, NaN-aware, with bottleneck's heap
    (about 4x faster than pandas' skiplist; the medians are most of a slider move's cost)."""
    out = bn.move_median(x.to_numpy(dtype=float), window, min_count=min(min_periods, window), axis=0)
    return pd.DataFrame(out, index=x.index, columns=x.columns)


def _rolling_clipped_std(r: pd.DataFrame, clip: pd.DataFrame, window: int) -> pd.DataFrame:
    """Population std of the last ``window`` values of each column (at least 3 of them), every value
    clipped to +-``clip`` of the window's *newest* row: the streaming runner clips the quarter
    hour it looks back on with the sigma it has now."""
    x = r.to_numpy(dtype=float)
    lim = clip.to_numpy(dtype=float)[:, :, None]
    padded = np.vstack([np.full((window - 1, x.shape[1]), np.nan), x])
    win = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (rows, symbols, window)
    with np.errstate(invalid="ignore"):
        clipped = np.clip(win, -lim, lim)
        n = np.isfinite(clipped).sum(axis=2)
        mean = np.nansum(clipped, axis=2) / np.maximum(n, 1)
        var = np.nansum((clipped - mean[:, :, None]) ** 2, axis=2) / np.maximum(n, 1)
    out = np.where(n >= 3, np.sqrt(var), np.nan)
    return pd.DataFrame(out, index=r.index, columns=r.columns)


def backtest_flags(bars_by_symbol: Mapping[str, Sequence[Bar]], thresholds: DetectionSettings,
                   policy: AlertPolicySettings | None = None) -> list[Flag]:
    """Flags the detectors would have raised on this 1-minute history, oldest first."""
    policy = policy or AlertPolicySettings()
    cooldown_ms = int(policy.cooldown_s) * 1000
    ends, symbols, f = minute_features(bars_by_symbol, thresholds)
    if not symbols:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        levels = {kind: np.nan_to_num(np.asarray(mod.level(f, thresholds), dtype=float), nan=0.0, posinf=0.0)
                  for kind, mod in DETECTORS.items()}
    demoted = _market_wide(f, len(bars_by_symbol), policy.market_wide_fraction, policy.market_wide_max_ratio)
    flags: list[Flag] = []
    for kind, lv in levels.items():
        if demoted is not None:
            lv = np.where(demoted & market_explained(kind, f, thresholds), 0.0, lv)
        for col, symbol in enumerate(symbols):
            flags.extend(_episodes(symbol, kind, ends, lv[:, col], cooldown_ms))
    flags.sort(key=lambda fl: (fl.ts_ms, fl.symbol, fl.kind.value))
    return flags


def flag_counts(flags: Sequence[Flag]) -> dict[str, dict[str, int]]:
    """symbol -> kind -> number of flags."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fl in flags:
        out[fl.symbol][fl.kind.value] += 1
    return {s: dict(k) for s, k in out.items()}


def _episodes(symbol: str, kind: AlertKind, ends: np.ndarray, level: np.ndarray, cooldown_ms: int) -> list[Flag]:
    hits = np.flatnonzero(level >= 1.0)
    hit_ends = ends[hits]
    out: list[Flag] = []
    i = 0
    while i < hits.size:
        start = hit_ends[i]
        j = int(np.searchsorted(hit_ends, start + cooldown_ms, side="left")) if cooldown_ms > 0 else i + 1
        j = max(j, i + 1)
        peak = float(level[hits[i:j]].max())
        out.append(Flag(symbol, kind, severity_for(peak), int(start), score_for(peak)))
        i = j
    return out


def _market_wide(f: Features, watchlist: int, fraction: float, max_ratio: float = np.inf) -> np.ndarray | None:
    """Mask (minutes x symbols) of symbols moving with a market-wide move, or None (as
    ``alerting.policy.market_wide_symbols``: movers at most ``max_ratio`` times the median mover)."""
    if watchlist < MIN_SYMBOLS_FOR_MARKET_WIDE:
        return None
    sign = np.asarray(f.market_moving, dtype=float)
    with np.errstate(invalid="ignore"):
        size = np.nan_to_num(np.fmax(np.abs(f.ret_short_pct), np.abs(f.ret_mid_pct)), nan=0.0)
    need = fraction * watchlist
    out = np.zeros(sign.shape, dtype=bool)
    for movers in (sign > 0, sign < 0):
        wide = movers.sum(axis=1, keepdims=True) >= need
        if not wide.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows without movers: all-NaN median
            typical = np.nanmedian(np.where(movers, size, np.nan), axis=1, keepdims=True)
        out |= movers & wide & (size <= max_ratio * typical)
    return out
