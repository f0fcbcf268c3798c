"""From 1-minute candles to trades (pure, numpy): each minute's OHLC and volume, reproduced exactly.

For every minute, :func:`minute_trades` draws ``n`` trades at sorted random times. Their prices
follow a path through the candle: the first trade at the open, one trade at each extreme (the
one nearer the open first, three times in four), the last at the close, and Brownian-bridge
noise between those anchors, clipped to [low, high] and rounded to the tick, so the minute's
trades have exactly the candle's open, high, low and close. Sizes are Pareto (tail index 1.5)
shares of the minute's volume, at least one lot each, summing to it exactly. The taker side
leans with each price step (an up-tick is a buy four times in five). A few trades are sweeps:
one order printed as several trades at one millisecond, walking a tick per print (never past
the candle's range, so the candle still holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE_ALPHA = 1.5
SIZE_CAP = 500.0
SWEEP_SHARE = 0.03
ANCHORS = 4  # open, first extreme, second extreme, close


@dataclass
class Trades:
    """Per-trade arrays, in time order: minute index, millisecond in the minute, price (ticks), lots, buy."""

    minute: np.ndarray
    ms: np.ndarray
    px: np.ndarray
    lots: np.ndarray
    buy: np.ndarray


def trade_counts(rng: np.random.Generator, volume_lots: np.ndarray, per_minute: float, median_lots: float) -> np.ndarray:
    """Trades per minute: ``per_minute`` on a median minute, growing as volume^0.7, never more than
    the volume in lots, at least the four anchors when the volume allows."""
    v = volume_lots.astype(float)
    rel = np.where(median_lots > 0, v / max(median_lots, 1.0), 1.0)
    n = np.rint(per_minute * rel**0.7 * rng.lognormal(0.0, 0.2, len(v))).astype(np.int64)
    n = np.maximum(n, ANCHORS)
    return np.where(volume_lots > 0, np.minimum(n, volume_lots), 0)


def minute_trades(rng: np.random.Generator, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                  volume_lots: np.ndarray, n: np.ndarray, bias: np.ndarray | None = None) -> Trades:
    """Trades for ``M`` minutes given as integer arrays (ticks, lots); ``n`` trades per minute.

    ``bias`` (per minute, optional) adds to every trade's buy probability.
    """
    m_count = len(o)
    n = np.asarray(n, dtype=np.int64)
    total = int(n.sum())
    rep = np.repeat(np.arange(m_count), n)
    start = np.cumsum(n) - n
    j = np.arange(total) - start[rep]
    nn = n[rep]
    # sorted times within each minute
    t = np.sort(rep + rng.random(total))
    ms = np.minimum(59_999, ((t - rep) * 60_000.0).astype(np.int64))
    # which extreme comes first: the shorter path through the candle, three times in four
    oo, hh, ll, cc = o[rep], h[rep], lo[rep], c[rep]
    cost_hl = (h - o) + (h - lo) + (c - lo)
    cost_lh = (o - lo) + (h - lo) + (h - c)
    p_high = np.where(cost_hl < cost_lh, 0.75, np.where(cost_hl > cost_lh, 0.25, 0.5))
    high_first = rng.random(m_count) < p_high
    x1, x2 = np.where(high_first, h, lo), np.where(high_first, lo, h)
    # anchor ranks: 0 < ia < ib < n - 1 when n >= 4
    ua, ub = rng.random(m_count), rng.random(m_count)
    ia = np.where(n >= ANCHORS, 1 + np.floor(ua * np.maximum(n - 3, 1)), np.minimum(1, n - 1)).astype(np.int64)
    ib = np.where(n >= ANCHORS, ia + 1 + np.floor(ub * np.maximum(n - 2 - ia, 1)), ia).astype(np.int64)
    ib = np.minimum(ib, np.maximum(n - 2, ia))
    ia_t, ib_t = ia[rep], ib[rep]
    x1_t, x2_t = x1[rep], x2[rep]
    seg = np.where(j <= ia_t, 0, np.where(j <= ib_t, 1, 2))
    s_rel = np.where(seg == 0, 0, np.where(seg == 1, ia_t, ib_t))
    e_rel = np.where(seg == 0, ia_t, np.where(seg == 1, ib_t, nn - 1))
    span = np.maximum(e_rel - s_rel, 1)
    frac = (j - s_rel) / span
    a_val = np.where(seg == 0, oo, np.where(seg == 1, x1_t, x2_t))
    b_val = np.where(seg == 0, x1_t, np.where(seg == 1, x2_t, cc))
    base = a_val + (b_val - a_val) * frac
    # Brownian-bridge noise between anchors (zero at both ends of each segment)
    w = np.cumsum(rng.standard_normal(total)) if total else np.zeros(0)
    s_abs, e_abs = start[rep] + s_rel, start[rep] + np.minimum(e_rel, nn - 1)
    bridge = (w - w[s_abs]) - frac * (w[e_abs] - w[s_abs]) if total else w
    amp = 0.25 * (hh - ll) / np.sqrt(np.maximum(nn, 1) / 3.0)
    px = np.clip(np.rint(base + amp * bridge), ll, hh).astype(np.int64)
    px = np.where(j == ia_t, x1_t, px)
    px = np.where(j == ib_t, x2_t, px)
    px = np.where(j == 0, oo, px)
    px = np.where(j == nn - 1, cc, px)
    small = nn < ANCHORS  # too little volume for four anchors: open, the larger extreme, close
    if small.any():
        far = np.where(hh - np.maximum(oo, cc) >= np.minimum(oo, cc) - ll, hh, ll)
        px = np.where(small & (j > 0) & (j < nn - 1), far, px)
    anchor = (j == 0) | (j == ia_t) | (j == ib_t) | (j == nn - 1)
    # sizes: Pareto shares of the minute's volume, one lot at least, summing to it exactly
    wgt = np.minimum((1.0 - rng.random(total)) ** (-1.0 / SIZE_ALPHA), SIZE_CAP)
    wsum = np.bincount(rep, weights=wgt, minlength=m_count)
    spare = np.maximum(volume_lots - n, 0)
    lots = 1 + np.floor(wgt / np.maximum(wsum[rep], 1e-12) * spare[rep]).astype(np.int64)
    short = volume_lots - np.bincount(rep, weights=lots, minlength=m_count).astype(np.int64)
    if total:
        biggest = start + _argmax_by_group(wgt, start, n)
        has = n > 0
        lots[biggest[has]] += short[has]
    # taker side: leans with the price step, the minute's direction and the bias
    step = np.sign(np.diff(px, prepend=px[:1])) if total else px
    p_buy = 0.5 + 0.3 * step + 0.05 * np.sign(cc - oo)
    if bias is not None:
        p_buy = p_buy + bias[rep]
    buy = rng.random(total) < np.clip(p_buy, 0.05, 0.95)
    return _sweeps(rng, Trades(rep, ms, px, lots, buy), anchor, ll, hh)


def _argmax_by_group(x: np.ndarray, start: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Offset of the largest ``x`` within each group ``[start, start + n)`` (0 for empty groups)."""
    out = np.zeros(len(start), dtype=np.int64)
    has = n > 0
    if not has.any():
        return out
    rep = np.repeat(np.arange(len(start)), n)
    order = np.lexsort((-x, rep))  # by group, largest first
    first = np.cumsum(n) - n
    out[has] = order[first[has]] - start[has]
    return out


def _sweeps(rng: np.random.Generator, tr: Trades, anchor: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Trades:
    """Split a few non-anchor trades into several prints at one millisecond, a tick apart."""
    total = len(tr.px)
    if total == 0:
        return tr
    parent = (~anchor) & (tr.lots >= 2) & (rng.random(total) < SWEEP_SHARE)
    k = np.where(parent, np.minimum(2 + np.minimum(rng.poisson(3.0, total), 8), tr.lots), 1)
    idx = np.repeat(np.arange(total), k)
    child = np.arange(len(idx)) - np.repeat(np.cumsum(k) - k, k)
    kk = k[idx]
    lots = tr.lots[idx] // kk + np.where(child == 0, tr.lots[idx] % kk, 0)
    buy = tr.buy[idx]
    px = np.clip(tr.px[idx] + child * np.where(buy, 1, -1), lo[idx], hi[idx])
    return Trades(tr.minute[idx], tr.ms[idx], px, lots, buy)
