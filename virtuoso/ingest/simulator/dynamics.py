"""The numbers behind the simulated market, drawn a chunk of seconds at a time with numpy.

For a chunk of ``C`` seconds and ``n`` symbols, :func:`draw_chunk` produces every price, trade,
liquidation, open-interest and funding value; :mod:`.market` only formats them into Bybit
messages. The model (see docs/simulator.md):

- log-returns per 100 ms slice: ``beta * factor(t - lag) + own noise``. The factor (BTC-led) and
  each symbol's own noise are Student-t shocks per second (spread over its slices) scaled by
  GARCH(1,1)-style clustering times a slow log-volatility drift and an intraday cycle, plus
  Poisson jumps of Student-t size (what makes 1-minute returns heavy-tailed: a sum of 60
  per-second t shocks is nearly normal); episodes add drift and volatility;
- orders arrive as Poisson counts per slice (rate rises with volatility, the cycle and episodes);
  Pareto sizes; aggressor sides lean with the slice's move and the episode's bias; a share of
  orders *sweep* the book (one order printed as several trades at one millisecond, walking the
  levels); block prints (some flagged ``BT``) arrive at a per-symbol rate;
- liquidations by chance (more when volatile, on the losing side), plus the episodes' share of
  open interest;
- open interest is a mean-reverting random walk (Student-t steps, a per-symbol hourly sd), moved
  by block prints, the episodes' OI path and every liquidation; the funding premium follows the
  flow imbalance with a 30 min memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from virtuoso.ingest.simulator.profiles import SIZE_CAP

SLICES = 10  # 100 ms slices per second
GARCH_A, GARCH_B = 0.006, 0.9925  # per-second GARCH(1,1) on unit variance: half-life ~8 min
SLOW_PHI = math.exp(-1.0 / 7_200.0)  # slow log-volatility drift, ~2 h memory
FAST_PHI = math.exp(-1.0 / 300.0)  # fast log-variance drift, ~5 min memory
FAST_SD = 0.7  # its stationary sd (log variance): minutes of calm and of bursts, heavy 1-min tails
FACTOR_DF = 4.0
MAX_LAG_SLICES = 20  # 2 s of factor history carried between chunks
OI_REVERT_S = 10_800.0
OI_DF = 4.0
PREMIUM_TAU_S = 1_800.0
FACTOR_JUMPS_PER_S = 8.0 / 86_400.0  # the market's own jumps
JUMP_SD_S = 3.0 * math.sqrt(60.0)  # a jump's typical size: 3 one-minute sds (heavy 1-min tails)
MAX_COUNT_MULT = 6.0  # volume multiples beyond this make trades bigger, not more numerous
SWEEP_MAX_TRADES = 40


@dataclass
class MarketVars:
    """The state carried from one chunk to the next (arrays of length n, factor scalars)."""

    logp: np.ndarray
    h: np.ndarray
    slow: np.ndarray
    oi: np.ndarray
    oi_target: np.ndarray
    prem: np.ndarray
    fast: np.ndarray | None = None
    f_h: float = 1.0
    f_slow: float = 0.0
    f_fast: float = 0.0
    f_hist: np.ndarray | None = None  # the factor's last MAX_LAG_SLICES increments


@dataclass
class Statics:
    """Per-symbol constants as arrays (see :class:`.profiles.SymbolProfile`)."""

    tick: np.ndarray
    qstep: np.ndarray
    idio_s: np.ndarray  # own noise sd per second
    factor_s: float  # factor sd per second
    beta: np.ndarray
    lag_slices: np.ndarray
    t_df: np.ndarray
    order_rate_slice: np.ndarray  # orders per slice at average activity
    size_alpha: np.ndarray
    size_min_usd: np.ndarray
    sweep_share: np.ndarray
    sweep_lam: np.ndarray  # extra prints per sweep (Poisson mean)
    sweep_step: np.ndarray  # ticks between the levels a sweep walks
    block_rate_s: np.ndarray
    block_bt_share: np.ndarray
    block_usd: np.ndarray  # typical block size (a minute's turnover)
    oi_sd_s: np.ndarray
    season_amp: np.ndarray
    season_peak_h: np.ndarray
    slow_sd: np.ndarray
    liq_rate_s: np.ndarray
    liq_usd: np.ndarray  # median chance liquidation
    jumps_per_s: np.ndarray  # the symbol's own price jumps


@dataclass
class Mods:
    """Episode modifiers, arrays of shape (n, C); ``factor_drift`` (C,) is the market's."""

    drift: np.ndarray
    vol: np.ndarray
    volume: np.ndarray
    bias: np.ndarray
    oi: np.ndarray
    liq_frac: np.ndarray
    liq_longs: np.ndarray
    factor_drift: np.ndarray

    @classmethod
    def neutral(cls, n: int, c: int) -> "Mods":
        z, o = np.zeros((n, c)), np.ones((n, c))
        return cls(z, o, o.copy(), z.copy(), z.copy(), z.copy(), np.ones((n, c), dtype=bool), np.zeros(c))


@dataclass
class Chunk:
    """Everything drawn for one chunk. Trade arrays are ordered by (symbol, second, slice, time)."""

    counts: np.ndarray  # (n*C*SLICES,) trades per slice, flattened
    t_abs_ms: list[int]  # per trade: exchange time
    buy: np.ndarray  # per trade: aggressor is a buyer
    px: np.ndarray  # per trade: price as a tick index
    lots: np.ndarray  # per trade: size in qty steps
    bt: np.ndarray  # per trade: flagged as a block trade
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
    blocks: list[tuple[int, int, float]]  # (symbol index, time ms, notional / typical block) per block print


def _t(rng: np.random.Generator, df: np.ndarray | float, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    df = np.asarray(df, dtype=float)
    return rng.standard_t(df, size) * np.sqrt((df - 2.0) / df)


def _t_slices(rng: np.random.Generator, df: np.ndarray | float, rows: int, c: int) -> np.ndarray:
    """(rows, c, SLICES) normal slices sharing one scale per second: each second's sum is a
    unit-variance Student-t (a scale mixture), at a tenth of the cost of a t per slice."""
    df = np.broadcast_to(np.asarray(df, dtype=float).reshape(-1, 1), (rows, c))
    scale = np.sqrt((df - 2.0) / rng.chisquare(df))
    return rng.standard_normal((rows, c, SLICES)) * scale[:, :, None]


def _jumps(rng: np.random.Generator, rate_s: np.ndarray, size_sd: np.ndarray, c: int) -> np.ndarray:
    """(rows, c, SLICES) log-price jumps: Poisson arrivals, Student-t (df 3) sizes of ``size_sd``."""
    rows = len(rate_s)
    out = np.zeros((rows, c, SLICES))
    hit = rng.poisson(np.broadcast_to(rate_s[:, None], (rows, c)))
    r, k = np.nonzero(hit)
    if len(r):
        out[r, k, rng.integers(0, SLICES, len(r))] = _t(rng, 3.0, (len(r),)) * size_sd[r]
    return out


def _garch(z_sec: np.ndarray, h: np.ndarray, slow: np.ndarray, slow_eps: np.ndarray, fast: np.ndarray,
           fast_eps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Variance multiple per second for shocks ``z_sec`` (rows, C): GARCH times two log-variance
    drifts (slow, ~2 h; fast, ~5 min). Returns (var, h, slow, fast) at the chunk's end."""
    c = z_sec.shape[-1]
    var = np.empty(z_sec.shape)
    w = 1 - GARCH_A - GARCH_B
    for k in range(c):
        var[..., k] = h * np.exp(slow + fast - FAST_SD**2)  # - FAST_SD**2: the fast part averages 1
        h = np.clip(w + (GARCH_A * np.minimum(z_sec[..., k] ** 2, 25.0) + GARCH_B) * h, 0.25, 16.0)
        slow = SLOW_PHI * slow + slow_eps[..., k]
        fast = FAST_PHI * fast + fast_eps[..., k]
    return var, h, slow, fast


def draw_chunk(rng: np.random.Generator, st: Statics, v: MarketVars, mods: Mods, sec0_ms: int, c: int) -> Chunk:
    """Draw ``c`` seconds starting at ``sec0_ms``; updates ``v`` in place to the chunk's end."""
    n, cs = len(st.tick), c * SLICES
    hours = ((sec0_ms // 1000 + np.arange(c)) % 86_400) / 3_600.0
    season = 1.0 + st.season_amp[:, None] * np.cos(2.0 * np.pi * (hours[None, :] - st.season_peak_h[:, None]) / 24.0)
    f_season = 1.0 + 0.35 * np.cos(2.0 * np.pi * (hours - 15.0) / 24.0)

    # the market factor (BTC-led), then every symbol's own noise; all prices at once
    zf = _t_slices(rng, FACTOR_DF, 1, c)[0]
    f_eps = rng.standard_normal((1, c)) * (0.35 * math.sqrt(1 - SLOW_PHI**2))
    f_fast_eps = rng.standard_normal((1, c)) * (FAST_SD * math.sqrt(1 - FAST_PHI**2))
    var_f, f_h, f_slow, f_fast = _garch(zf.sum(axis=1)[None, :] / math.sqrt(SLICES), np.array([v.f_h]),
                                        np.array([v.f_slow]), f_eps, np.array([v.f_fast]), f_fast_eps)
    v.f_h, v.f_slow, v.f_fast = float(f_h[0]), float(f_slow[0]), float(f_fast[0])
    f_sig = st.factor_s * np.sqrt(var_f[0] * f_season)  # (C,)
    f_jump = _jumps(rng, np.array([FACTOR_JUMPS_PER_S]), np.array([st.factor_s * JUMP_SD_S]), c)[0]
    f_inc = (zf * (f_sig / math.sqrt(SLICES))[:, None] + (mods.factor_drift / SLICES)[:, None] + f_jump).ravel()
    hist = v.f_hist if v.f_hist is not None else np.zeros(MAX_LAG_SLICES)
    f_all = np.concatenate([hist, f_inc])
    v.f_hist = f_all[-MAX_LAG_SLICES:].copy()
    fac = f_all[(MAX_LAG_SLICES - st.lag_slices)[:, None] + np.arange(cs)[None, :]].reshape(n, c, SLICES)

    z = _t_slices(rng, st.t_df, n, c)
    slow_eps = rng.standard_normal((n, c)) * (st.slow_sd * math.sqrt(1 - SLOW_PHI**2))[:, None]
    fast_eps = rng.standard_normal((n, c)) * (FAST_SD * math.sqrt(1 - FAST_PHI**2))
    var_m, v.h, v.slow, v.fast = _garch(z.sum(axis=2) / math.sqrt(SLICES), v.h, v.slow, slow_eps, v.fast, fast_eps)
    sig = st.idio_s[:, None] * np.sqrt(var_m * season) * mods.vol  # (n, C)
    inc = (st.beta[:, None, None] * fac + z * (sig / math.sqrt(SLICES))[:, :, None] + (mods.drift / SLICES)[:, :, None]
           + _jumps(rng, st.jumps_per_s, st.idio_s * JUMP_SD_S, c))
    path = v.logp[:, None] + np.cumsum(inc.reshape(n, cs), axis=1)
    v.logp = path[:, -1].copy()
    path = path.reshape(n, c, SLICES)
    mid = np.exp(path)
    bid = np.floor(mid / st.tick[:, None, None]).astype(np.int64)
    # how busy each second is: the total variance against a calm one
    calm = (st.beta * st.factor_s) ** 2 + st.idio_s**2
    var_tot = ((st.beta * st.factor_s) ** 2)[:, None] * var_f[0][None, :] + (st.idio_s**2)[:, None] * var_m * mods.vol**2
    ratio = var_tot / calm[:, None]
    z_move = inc / (np.sqrt(calm) / math.sqrt(SLICES))[:, None, None]

    # orders per slice, then sweeps (several prints at one millisecond) and block prints
    count_m = np.minimum(mods.volume, MAX_COUNT_MULT)
    size_m = mods.volume / count_m
    act = np.minimum(np.sqrt(ratio), 4.0) * season * count_m
    orders = rng.poisson(np.repeat((st.order_rate_slice[:, None] * act)[:, :, None], SLICES, axis=2)).ravel()
    n_ord = int(orders.sum())
    o_f = np.repeat(np.arange(n * cs), orders)  # flat slice index: (symbol * C + second) * SLICES + slice
    o_s = o_f // cs
    p_buy = np.clip(0.5 + mods.bias[:, :, None] + 0.3 * np.tanh(z_move), 0.03, 0.97).ravel()
    o_buy = rng.random(n_ord) < p_buy[o_f]
    o_ms = rng.integers(0, 100, n_ord)
    sweep = rng.random(n_ord) < st.sweep_share[o_s]
    k = np.where(sweep, 2 + np.minimum(rng.poisson(st.sweep_lam[o_s]), SWEEP_MAX_TRADES - 2), 1)
    t_f = np.repeat(o_f, k)
    t_s = t_f // cs
    n_tr = len(t_f)
    child = np.arange(n_tr) - np.repeat(np.cumsum(k) - k, k)  # 0 for a plain trade, 0..k-1 in a sweep
    buy = np.repeat(o_buy, k)
    t_ms = np.repeat(o_ms, k)
    step = (child * st.sweep_step[t_s]) * np.where(buy, 1, -1)
    px = bid.ravel()[t_f] + buy + step
    # Pareto sizes: a single trade is at most SIZE_CAP scales (the profile calibrates the mean)
    u = 1.0 - rng.random(n_tr)
    usd = st.size_min_usd[t_s] * np.minimum(u ** (-1.0 / st.size_alpha[t_s]), SIZE_CAP) * size_m.ravel()[t_f // SLICES]
    bt = np.zeros(n_tr, dtype=bool)
    oi_w = np.zeros(n_tr)  # share of a print's size that changes open interest (blocks only)

    # block prints: a large single print near the touch; some are Bybit block trades (BT)
    n_blk = rng.poisson(np.broadcast_to(st.block_rate_s[:, None], (n, c)))
    blocks: list[tuple[int, int, float]] = []
    if n_blk.any():
        b_sc = np.repeat(np.arange(n * c), n_blk.ravel())
        b_s = b_sc // c
        nb = len(b_sc)
        b_slice = rng.integers(0, SLICES, nb)
        b_f = b_sc * SLICES + b_slice
        mult = np.exp(rng.uniform(math.log(0.5), math.log(15.0), nb))
        b_buy = rng.random(nb) < 0.5
        b_ms = rng.integers(0, 100, nb)
        t_f = np.concatenate([t_f, b_f])
        buy = np.concatenate([buy, b_buy])
        t_ms = np.concatenate([t_ms, b_ms])
        px = np.concatenate([px, bid.ravel()[b_f] + b_buy])
        usd = np.concatenate([usd, st.block_usd[b_s] * mult])
        bt = np.concatenate([bt, rng.random(nb) < st.block_bt_share[b_s]])
        oi_w = np.concatenate([oi_w, np.where(rng.random(nb) < 0.6, 0.5, -0.3)])
        blocks = [(int(s), int(sec0_ms + (sc % c) * 1000 + sl * 100 + ms), float(m))
                  for s, sc, sl, ms, m in zip(b_s, b_sc, b_slice, b_ms, mult)]
    order = np.argsort(t_f * 100 + t_ms, kind="stable")
    t_f, buy, t_ms, px, usd, bt, oi_w = (a[order] for a in (t_f, buy, t_ms, px, usd, bt, oi_w))
    t_sc = t_f // SLICES
    t_s = t_sc // c
    counts = np.bincount(t_f, minlength=n * cs)
    price = px * st.tick[t_s]
    lots = np.maximum(1, np.rint(usd / price / st.qstep[t_s])).astype(np.int64)
    qty = lots * st.qstep[t_s]
    notional = qty * price
    buy_usd = np.bincount(t_sc, weights=notional * buy, minlength=n * c).reshape(n, c)
    gross = np.bincount(t_sc, weights=notional, minlength=n * c).reshape(n, c)
    volume = np.bincount(t_sc, weights=qty, minlength=n * c).reshape(n, c)
    # a block print opens positions (or closes some): OI moves by a share of its size
    blk_oi = np.bincount(t_sc, weights=qty * oi_w, minlength=n * c).reshape(n, c)

    # chance liquidations, on the losing side
    price_end = mid[:, :, -1]
    z_sec = z_move.sum(axis=2) / math.sqrt(SLICES)
    base_n = rng.poisson(st.liq_rate_s[:, None] * np.minimum(ratio, 6.0) * (1.0 + np.abs(z_sec)))
    n_liq = int(base_n.sum())
    rep_l = np.repeat(np.arange(n * c), base_n.ravel())
    med_lots = (st.liq_usd[:, None] / price_end / st.qstep[:, None]).ravel()
    l_lots = np.maximum(1, (med_lots[rep_l] * rng.lognormal(0.0, 1.0, n_liq)).astype(np.int64))
    l_longs = rng.random(n_liq) < (0.5 - 0.4 * np.tanh(z_sec)).ravel()[rep_l]
    base_qty = np.bincount(rep_l, weights=l_lots, minlength=n * c).reshape(n, c) * st.qstep[:, None]
    liq_base_lots: list[list[list[int]]] = [[[] for _ in range(c)] for _ in range(n)]
    liq_base_longs: list[list[list[bool]]] = [[[] for _ in range(c)] for _ in range(n)]
    for f, lt, lg in zip(rep_l.tolist(), l_lots.tolist(), l_longs.tolist()):
        liq_base_lots[f // c][f % c].append(lt)
        liq_base_longs[f // c][f % c].append(lg)

    # open interest and funding premium (sequential per second)
    oi_noise = _t(rng, OI_DF, (n, c)) * st.oi_sd_s[:, None]
    imb = (2.0 * buy_usd - gross) / (gross + 1.0)
    prem_noise = 0.000001 * rng.standard_normal((n, c))
    oi_out, prem_out, want_lots = np.empty((n, c)), np.empty((n, c)), np.zeros((n, c), dtype=np.int64)
    oi, target, prem = v.oi, v.oi_target, v.prem
    has_liq = bool(mods.liq_frac.any())
    grow = np.exp(mods.oi)
    for j in range(c):
        liq_qty = base_qty[:, j]
        if has_liq:
            want_lots[:, j] = (mods.liq_frac[:, j] * oi / st.qstep).astype(np.int64)
            liq_qty = liq_qty + want_lots[:, j] * st.qstep
        oi = np.maximum(oi + (target - oi) / OI_REVERT_S + oi_noise[:, j] * oi + blk_oi[:, j] - liq_qty, oi * 0.5) * grow[:, j]
        target = np.maximum(target - liq_qty, 1.0) * grow[:, j]
        prem = prem + (0.0005 * imb[:, j] - prem) / PREMIUM_TAU_S + prem_noise[:, j]
        oi_out[:, j], prem_out[:, j] = oi, prem
    v.oi, v.oi_target, v.prem = oi, target, prem

    return Chunk(
        counts=counts,
        t_abs_ms=(sec0_ms + (t_sc % c) * 1000 + (t_f % SLICES) * 100 + t_ms).tolist(),
        buy=buy,
        px=px,
        lots=lots,
        bt=bt,
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
        blocks=blocks,
    )
