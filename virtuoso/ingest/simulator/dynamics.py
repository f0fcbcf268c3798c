"""The numbers behind the simulated market, drawn a chunk of seconds at a time with numpy.

For a chunk of ``C`` seconds and ``n`` symbols, :func:`draw_chunk` produces every price, trade,
liquidation, open-interest and funding value; :mod:`.market` only formats them into Bybit
messages. The model (see docs/simulator.md):

- log-returns per 100 ms slice: a common market factor (correlation ``MARKET_RHO``) plus
  idiosyncratic noise, scaled by GARCH(1,1)-style clustering on unit variance times a slow
  log-volatility drift, intraday seasonality and the episodes' volatility multiple, plus the
  episodes' drift;
- Poisson trade counts per slice (rate rises with volatility, seasonality and episodes),
  lognormal sizes, aggressor sides leaning with the slice's move and the episode's bias;
- liquidations by chance (more when volatile, on the losing side), plus the episodes' share of
  open interest;
- open interest grows with one-sided aggressive flow, reverts slowly to a target, falls by
  every liquidation, and follows the episodes' OI path; the funding premium follows the flow
  imbalance with a 30 min memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SLICES = 10  # 100 ms slices per second
GARCH_A, GARCH_B = 0.006, 0.9925  # per-second GARCH(1,1) on unit variance: half-life ~8 min
SLOW_PHI = math.exp(-1.0 / 7_200.0)  # slow log-volatility drift, ~2 h memory
SLOW_SD = 0.35
MARKET_RHO = 0.6  # correlation of each symbol's noise with the common factor
SIZE_SIGMA = 1.1  # lognormal sigma of trade sizes
OI_REVERT_S = 10_800.0
PREMIUM_TAU_S = 1_800.0
BASE_LIQ_PER_S = 1.0 / 240.0
MAX_COUNT_MULT = 6.0  # volume multiples beyond this make trades bigger, not more numerous


@dataclass
class MarketVars:
    """The state carried from one chunk to the next (arrays of length n)."""

    logp: np.ndarray
    h: np.ndarray
    slow: np.ndarray
    oi: np.ndarray
    oi_target: np.ndarray
    prem: np.ndarray


@dataclass
class Statics:
    """Per-symbol constants as arrays."""

    tick: np.ndarray
    qstep: np.ndarray
    sigma_s: np.ndarray
    rate_slice: np.ndarray
    log_med_usd: np.ndarray


@dataclass
class Mods:
    """Episode modifiers, arrays of shape (n, C)."""

    drift: np.ndarray
    vol: np.ndarray
    volume: np.ndarray
    bias: np.ndarray
    oi: np.ndarray
    liq_frac: np.ndarray
    liq_longs: np.ndarray

    @classmethod
    def neutral(cls, n: int, c: int) -> "Mods":
        z, o = np.zeros((n, c)), np.ones((n, c))
        return cls(z, o, o.copy(), z.copy(), z.copy(), z.copy(), np.ones((n, c), dtype=bool))


@dataclass
class Chunk:
    """Everything drawn for one chunk. Trade arrays are ordered by (symbol, second, slice)."""

    counts: np.ndarray  # (n*C*SLICES,) trades per slice, flattened
    t_abs_ms: list[int]  # per trade: exchange time
    buy: np.ndarray  # per trade: aggressor is a buyer
    px: np.ndarray  # per trade: price as a tick index
    lots: np.ndarray  # per trade: size in qty steps
    bid_end: np.ndarray  # (n, C) best bid (tick index) at each second's end
    bid_first: np.ndarray  # (n,) best bid at the chunk's first slice
    high: np.ndarray  # (n, C) highest and lowest mid in the second
    low: np.ndarray
    volume: np.ndarray  # (n, C) traded base units and USD
    turnover: np.ndarray
    oi: np.ndarray  # (n, C) open interest at each second's end
    prem: np.ndarray  # (n, C)
    liq_base_lots: list[list[list[int]]]  # [symbol][second] -> lot counts of chance liquidations
    liq_base_longs: list[list[list[bool]]]
    liq_want_lots: np.ndarray  # (n, C) lots of episode liquidations
    liq_longs: np.ndarray  # (n, C)


def draw_chunk(rng: np.random.Generator, st: Statics, v: MarketVars, mods: Mods, sec0_ms: int, c: int) -> Chunk:
    """Draw ``c`` seconds starting at ``sec0_ms``; updates ``v`` in place to the chunk's end."""
    n = len(st.tick)
    secs = (sec0_ms // 1000 + np.arange(c)) % 86_400
    season = 1.0 + 0.45 * np.cos(2.0 * np.pi * (secs / 3_600.0 - 15.0) / 24.0)  # (C,)

    # volatility state per second (sequential), then all prices at once
    z = MARKET_RHO * rng.standard_normal((1, c, SLICES)) + math.sqrt(1 - MARKET_RHO**2) * rng.standard_normal((n, c, SLICES))
    z_sec = z.sum(axis=2) / math.sqrt(SLICES)  # (n, C)
    slow_eps = rng.standard_normal((n, c)) * (SLOW_SD * math.sqrt(1 - SLOW_PHI**2))
    var_m = np.empty((n, c))
    h, slow = v.h, v.slow
    w = 1 - GARCH_A - GARCH_B
    for k in range(c):
        var_m[:, k] = h * np.exp(slow)
        h = np.clip(w + (GARCH_A * z_sec[:, k] ** 2 + GARCH_B) * h, 0.25, 16.0)
        slow = SLOW_PHI * slow + slow_eps[:, k]
    v.h, v.slow = h, slow
    sig = st.sigma_s[:, None] * np.sqrt(var_m * season[None, :]) * mods.vol  # (n, C)
    inc = z * (sig / math.sqrt(SLICES))[:, :, None] + (mods.drift / SLICES)[:, :, None]
    path = v.logp[:, None] + np.cumsum(inc.reshape(n, c * SLICES), axis=1)
    v.logp = path[:, -1].copy()
    path = path.reshape(n, c, SLICES)
    mid = np.exp(path)
    bid = np.floor(mid / st.tick[:, None, None]).astype(np.int64)

    # trades
    count_m = np.minimum(mods.volume, MAX_COUNT_MULT)
    size_m = mods.volume / count_m
    act = np.minimum(np.sqrt(var_m), 4.0) * season[None, :] * count_m
    counts = rng.poisson(np.repeat((st.rate_slice[:, None] * act)[:, :, None], SLICES, axis=2)).ravel()
    n_tr = int(counts.sum())
    rep_f = np.repeat(np.arange(n * c * SLICES), counts)
    rep_sc = rep_f // SLICES  # symbol * C + second
    rep_s = rep_sc // c
    p_buy = np.clip(0.5 + mods.bias[:, :, None] + 0.3 * np.tanh(z), 0.03, 0.97).ravel()
    buy = rng.random(n_tr) < p_buy[rep_f]
    px = bid.ravel()[rep_f] + buy
    mu = (st.log_med_usd[:, None] - path[:, :, -1] - np.log(st.qstep)[:, None] + np.log(size_m)).ravel()
    lots = np.maximum(1, np.rint(np.exp(mu[rep_sc] + SIZE_SIGMA * rng.standard_normal(n_tr)))).astype(np.int64)
    t_off = np.sort(rng.integers(0, 99, n_tr) + rep_f * 1000) - rep_f * 1000 + (rep_f % SLICES) * 100
    qty = lots * st.qstep[rep_s]
    notional = qty * px * st.tick[rep_s]
    buy_usd = np.bincount(rep_sc, weights=notional * buy, minlength=n * c).reshape(n, c)
    gross = np.bincount(rep_sc, weights=notional, minlength=n * c).reshape(n, c)
    volume = np.bincount(rep_sc, weights=qty, minlength=n * c).reshape(n, c)

    # chance liquidations, on the losing side
    price_end = mid[:, :, -1]
    base_n = rng.poisson(BASE_LIQ_PER_S * np.minimum(var_m, 6.0) * (1.0 + np.abs(z_sec)))
    n_liq = int(base_n.sum())
    rep_l = np.repeat(np.arange(n * c), base_n.ravel())
    med_lots = (3.0 * np.exp(st.log_med_usd)[:, None] / price_end / st.qstep[:, None]).ravel()
    l_lots = np.maximum(1, (med_lots[rep_l] * rng.lognormal(0.0, 1.0, n_liq)).astype(np.int64))
    l_longs = rng.random(n_liq) < (0.5 - 0.4 * np.tanh(z_sec)).ravel()[rep_l]
    base_qty = np.bincount(rep_l, weights=l_lots, minlength=n * c).reshape(n, c) * st.qstep[:, None]
    liq_base_lots: list[list[list[int]]] = [[[] for _ in range(c)] for _ in range(n)]
    liq_base_longs: list[list[list[bool]]] = [[[] for _ in range(c)] for _ in range(n)]
    for f, lt, lg in zip(rep_l.tolist(), l_lots.tolist(), l_longs.tolist()):
        liq_base_lots[f // c][f % c].append(lt)
        liq_base_longs[f // c][f % c].append(lg)

    # open interest and funding premium (sequential per second)
    net = 2.0 * buy_usd - gross
    flow_oi = 0.4 * (np.abs(net) - 0.25 * gross) / price_end
    oi_noise = 0.00002 * rng.standard_normal((n, c))
    imb = net / (gross + 1.0)
    prem_noise = 0.000001 * rng.standard_normal((n, c))
    oi_out, prem_out, want_lots = np.empty((n, c)), np.empty((n, c)), np.zeros((n, c), dtype=np.int64)
    oi, target, prem = v.oi, v.oi_target, v.prem
    has_liq = bool(mods.liq_frac.any())
    grow = np.exp(mods.oi)
    for k in range(c):
        liq_qty = base_qty[:, k]
        if has_liq:
            want_lots[:, k] = (mods.liq_frac[:, k] * oi / st.qstep).astype(np.int64)
            liq_qty = liq_qty + want_lots[:, k] * st.qstep
        oi = np.maximum(oi + flow_oi[:, k] + (target - oi) / OI_REVERT_S + oi_noise[:, k] * oi - liq_qty, oi * 0.5) * grow[:, k]
        target = np.maximum(target - liq_qty, 1.0) * grow[:, k]
        prem = prem + (0.0005 * imb[:, k] - prem) / PREMIUM_TAU_S + prem_noise[:, k]
        oi_out[:, k], prem_out[:, k] = oi, prem
    v.oi, v.oi_target, v.prem = oi, target, prem

    return Chunk(
        counts=counts,
        t_abs_ms=(sec0_ms + (rep_sc % c) * 1000 + t_off).tolist(),
        buy=buy,
        px=px,
        lots=lots,
        bid_end=bid[:, :, -1],
        bid_first=bid[:, 0, 0],
        high=mid.max(axis=2),
        low=mid.min(axis=2),
        volume=volume,
        turnover=gross,
        oi=oi_out,
        prem=prem_out,
        liq_base_lots=liq_base_lots,
        liq_base_longs=liq_base_longs,
        liq_want_lots=want_lots,
        liq_longs=mods.liq_longs,
    )
