"""CandleMarket: a Bybit v5 public message stream whose prices and volumes are real 1-minute candles.

Per symbol and second, as the simulator sends them (docs/simulator.md, "Messages"): the second's
trades (``publicTrade``, batched per ``trade_batch_ms``), liquidations when any
(``allLiquidation``), one ticker (``tickers``: snapshot, then deltas) and, every
``book_every_s`` seconds, an order-book delta (``orderbook.50``). What is real and what is made:

- **trades**: :mod:`.ticks` spreads each candle's volume over heavy-tailed trades whose prices
  pass through its open, high, low and close (each minute reproduced exactly), with plausible
  taker sides and a few same-millisecond sweeps;
- **open interest**: synthesised, a mean-reverting random walk (Student-t steps, an hourly sd of
  0.5-2.5 % by liquidity as in the simulator), lowered by every liquidation;
- **funding**: the real rate of the next settlement and its real time;
- **liquidations**: a few by chance, and bursts on the losing side when a minute moves more than
  four of the previous hour's one-minute sds;
- **order book**: a 50-level ladder around the last trade.

Optionally the simulator's manipulation episodes are planted on top (``episodes_per_hour`` or
``scheduled``): their price path shifts the real one, their volume multiple adds trades, their
bias leans the tape, their OI path and liquidations bend OI. Labels: the planted episodes and the
real funding settlements at 00/08/16 UTC (``funding_time``, market-wide).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from virtuoso.ingest.candles.data import MINUTE_MS, SymbolCandles
from virtuoso.ingest.candles.ticks import minute_trades, trade_counts
from virtuoso.ingest.simulator.book import DEPTH, Ladder
from virtuoso.ingest.simulator.episodes import EPISODE_KINDS, MARKET_WIDE, Episode, effect
from virtuoso.ingest.simulator.fmt import decimals_and_units, fixed_strings
from virtuoso.ingest.simulator.planner import Planner
from virtuoso.ingest.simulator.profiles import SymbolProfile, profile_for
from virtuoso.ingest.simulator.ticker import TickerState

HOUR_MS = 3_600_000
FUNDING_LABEL_EVERY_MS = 8 * HOUR_MS
OI_REVERT_S = 10_800.0
LIQ_Z = 4.0  # a minute beyond this many of the previous hour's sds liquidates the losing side
_SIDES = ("Sell", "Buy")
Message = tuple[dict[str, Any], int]


def _tick_dirs(px: np.ndarray, prev: int, up: bool) -> tuple[list[str], int, bool]:
    step = np.sign(np.diff(px, prepend=prev or px[0]))
    nz = np.where(step != 0, np.arange(len(px)), -1)
    filled = np.maximum.accumulate(nz)
    carried = np.where(filled >= 0, step[np.maximum(filled, 0)], 1 if up else -1)
    codes = np.where(step > 0, 0, np.where(step < 0, 1, np.where(carried > 0, 2, 3)))
    names = np.array(["PlusTick", "MinusTick", "ZeroPlusTick", "ZeroMinusTick"], dtype=object)
    return names[codes].tolist(), int(px[-1]), bool(carried[-1] > 0)


class _Sym:
    """Per-symbol state of the bridge."""

    def __init__(self, sc: SymbolCandles, prof: SymbolProfile, rng: np.random.Generator, first_px: int) -> None:
        self.sc, self.prof = sc, prof
        self.median_lots = float(np.median(sc.volume_lots)) if len(sc.volume_lots) else 1.0
        per_min = prof.turnover_usd_day / 1_440.0
        self.trades_per_min = float(np.clip(25.0 * math.sqrt(per_min / 1e5), 3.0, 400.0))
        sd_s = prof.daily_vol / math.sqrt(86_400.0)
        self.book = Ladder(sc.symbol, sc.tick, max(1, round(first_px * sd_s)), sc.qty_step)
        self.ticker = TickerState(sc.symbol, sc.tick, sc.qty_step, self.book.prices, self.book.sizes)
        self.oi = self.oi_target = prof.oi_usd / (first_px * sc.tick) / sc.qty_step  # in lots
        self.offset = 0.0  # log-price shift the planted episodes have added so far
        self.last_px, self.last_buy = first_px, True  # as of the second being sent
        self.dir_px, self.up = first_px, True  # tick-direction state of the trades formatted so far
        r = np.diff(np.log(np.maximum(sc.close, 1)))
        c1, c2 = np.concatenate([[0.0], np.cumsum(r)]), np.concatenate([[0.0], np.cumsum(r * r)])
        k = 60  # causal sd of the previous hour's one-minute returns
        idx = np.arange(len(r))
        lo = np.maximum(0, idx - k)
        cnt = np.maximum(idx - lo, 1)
        mean = (c1[idx] - c1[lo]) / cnt
        self.ret = np.concatenate([[0.0], r])
        self.ret_sd = np.concatenate([[np.inf], np.where(idx - lo >= 20, np.sqrt(np.maximum((c2[idx] - c2[lo]) / cnt - mean**2, 1e-12)), np.inf)])
        self.book_sizes = max(1, int(prof.median_notional_usd / (first_px * sc.tick) / sc.qty_step))
        self.trade_topic, self.liq_topic = f"publicTrade.{sc.symbol}", f"allLiquidation.{sc.symbol}"


def _real_profile(sc: SymbolCandles, turnover: float) -> SymbolProfile:
    """A simulator profile carrying what the data says about the symbol (for noise floors, OI noise)."""
    r = np.diff(np.log(np.maximum(sc.close, 1)))
    daily_vol = float(np.std(r) * math.sqrt(1_440.0)) if len(r) > 10 else 0.04
    base = profile_for(sc.symbol)
    trades_per_s = float(np.clip(25.0 * math.sqrt(turnover / 1_440.0 / 1e5), 3.0, 400.0)) / 60.0
    price = float(sc.close[-1] * sc.tick) if len(sc.close) else base.price
    oi_sd = min(0.025, max(0.005, 0.006 * (4.0e9 / max(turnover, 1.0)) ** 0.2))
    return dataclasses.replace(base, price=price, tick=sc.tick, qty_step=sc.qty_step, turnover_usd_day=turnover,
                               daily_vol=daily_vol, idio_daily_vol=daily_vol, trades_per_s=trades_per_s,
                               oi_usd=0.5 * turnover, oi_hourly_sd=oi_sd,
                               size_min_usd=turnover / 86_400.0 / trades_per_s / 3.0)


class CandleMarket:
    """Real candles of ``symbols`` over [start_ms, end_ms) as a Bybit v5 stream; ``run`` yields ``(message, ts_ms)``.

    ``turnover_usd_day`` fixes each symbol's liquidity (its tier); by default it is measured over
    the whole file. ``labels`` holds the planted episodes and the funding settlements that have
    started; ``profiles`` what the bridge knows of each symbol; deterministic by ``seed``.
    """

    def __init__(self, data: Mapping[str, SymbolCandles], *, start_ms: int, end_ms: int, seed: int = 0,
                 symbols: Sequence[str] | None = None, episodes_per_hour: float = 0.0,
                 scheduled: Sequence[Episode] = (), trade_batch_ms: int = 1000, book_every_s: int = 5,
                 turnover_usd_day: Mapping[str, float] | None = None) -> None:
        self.start_ms = int(start_ms) - int(start_ms) % MINUTE_MS
        self.end_ms = int(end_ms) - int(end_ms) % 1000
        names = list(symbols) if symbols is not None else list(data)
        self.symbols = [s for s in dict.fromkeys(names) if s in data
                        and data[s].window(self.start_ms, self.end_ms).stop > data[s].window(self.start_ms, self.end_ms).start]
        if not self.symbols:
            raise ValueError("no candles for these symbols in this window")
        self.seed = int(seed)
        self.trade_batch_ms = max(100, min(1000, int(trade_batch_ms)))
        self.book_every_s = max(1, int(book_every_s))
        ss = np.random.SeedSequence([self.seed & 0xFFFFFFFF, (self.start_ms // 1000) & 0xFFFFFFFF, 31])
        plan_ss, mkt_ss, wire_ss = ss.spawn(3)
        self._rng = np.random.Generator(np.random.PCG64(mkt_ss))
        self._wire = np.random.Generator(np.random.PCG64(wire_ss))
        turn = turnover_usd_day or {}
        self.profiles = [_real_profile(data[s], float(turn.get(s) or data[s].turnover_usd_day())) for s in self.symbols]
        self._syms: list[_Sym] = []
        for s, prof in zip(self.symbols, self.profiles):
            sc = data[s]
            sl = sc.window(self.start_ms, self.end_ms)
            st = _Sym(sc, prof, self._rng, int(sc.open[sl.start]))
            st.ticker.seed_hours(self._past_hours(sc), int(sc.open[sl.start]) * sc.tick)
            self._syms.append(st)
        self.planner = Planner(self.symbols, np.random.Generator(np.random.PCG64(plan_ss)), self.start_ms,
                               episodes_per_hour, 0.0, 0.0, False, tuple(scheduled),
                               profiles=dict(zip(self.symbols, self.profiles)), trend_per_day=0.0, listing_per_day=0.0)
        self.labels: list[Episode] = []
        self.messages = 0
        self._active: list[Episode] = []
        self._t_ms = self.start_ms
        self._hour0 = -1
        self._trade_seq = 0
        self._started = False
        self._funding_labelled: set[int] = set()
        self._pick_pool: list[int] = []
        self._size_pool: list[int] = []

    @property
    def now_ms(self) -> int:
        return self._t_ms

    def symbols_info(self) -> dict[str, dict[str, Any]]:
        """``{symbol: {"tier", "turnover_usd_day"}}`` as the labels file carries it."""
        return {p.symbol: {"tier": p.tier, "turnover_usd_day": round(p.turnover_usd_day, 2)} for p in self.profiles}

    def run(self, duration_s: float | None = None) -> Iterator[Message]:
        """Yield the next ``duration_s`` seconds (all of the window by default), time-ordered."""
        stop = self.end_ms if duration_s is None else min(self.end_ms, self._t_ms + int(duration_s * 1000))
        while self._t_ms + 1000 <= stop:
            out = self._second(self._t_ms)
            self._t_ms += 1000
            self.messages += len(out)
            yield from out

    # ------------------------------------------------------------------ hours

    def _past_hours(self, sc: SymbolCandles) -> list[tuple[float, float, float, float, float]]:
        out = []
        for k in range(23, 0, -1):
            sl = sc.window(self.start_ms - k * HOUR_MS, self.start_ms - (k - 1) * HOUR_MS)
            if sl.stop <= sl.start:
                continue
            o, h, lo = sc.open[sl.start] * sc.tick, sc.high[sl].max() * sc.tick, sc.low[sl].min() * sc.tick
            v = float(sc.volume_lots[sl].sum()) * sc.qty_step
            out.append((o, h, lo, v, float((sc.volume_lots[sl] * sc.close[sl]).sum()) * sc.qty_step * sc.tick))
        return out

    def _episode_mods(self, i: int, h0: int) -> tuple[np.ndarray, ...]:
        """Per-second modifiers of the planted episodes on symbol ``i`` over the hour at ``h0``."""
        drift, volm, bias, oi_d, liq, longs = (np.zeros(3_600), np.ones(3_600), np.zeros(3_600), np.zeros(3_600),
                                               np.zeros(3_600), np.ones(3_600, dtype=bool))
        sym = self.symbols[i]
        for ep in self._active:
            if ep.symbol != sym or ep.kind not in EPISODE_KINDS:
                continue
            k0 = max(0, (ep.start_ms - h0) // 1000)
            k1 = min(3_600, -(-(ep.end_ms - h0) // 1000))
            for k in range(k0, k1):
                m = effect(ep, (h0 + k * 1000 - ep.start_ms) // 1000)
                drift[k] += m[0]
                volm[k] *= m[2]
                bias[k] += m[3]
                oi_d[k] += m[4]
                if m[5] > liq[k]:
                    longs[k] = m[6]
                liq[k] += m[5]
        return drift, volm, bias, oi_d, liq, longs

    def _draw_hour(self, h0: int) -> None:
        """Everything of the hour starting at ``h0``, per symbol and second."""
        due = self.planner.due(h0 + HOUR_MS - 1)
        self._pending_labels = sorted(due, key=lambda e: e.start_ms)
        self._active = [e for e in self._active if e.end_ms > h0] + due
        rng, n = self._rng, len(self._syms)
        self._hour = []
        oi_noise = rng.standard_t(4.0, (n, 3_600)) * np.sqrt(0.5)
        oi_steps = np.zeros((n, 3_600))
        liq_lots = np.zeros((n, 3_600))
        per_sym = []
        for i, st in enumerate(self._syms):
            drift, volm, bias, oi_d, liq_frac, liq_longs = self._episode_mods(i, h0)
            per_sym.append(self._hour_trades(st, h0, drift, volm, bias))
            oi_steps[i] = oi_d
            for t_ms, lots, _longs in per_sym[-1]["liqs"]:
                liq_lots[i, (t_ms - h0) // 1000] += lots
            per_sym[-1]["liq_frac"], per_sym[-1]["liq_longs"] = liq_frac, liq_longs
        sd_s = np.array([p.oi_hourly_sd for p in self.profiles]) / 60.0
        oi = np.array([s.oi for s in self._syms])
        target = np.array([s.oi_target for s in self._syms])
        fracs = np.array([d["liq_frac"] for d in per_sym])
        oi_out = np.empty((n, 3_600))
        want = np.zeros((n, 3_600), dtype=np.int64)
        grow = np.exp(oi_steps)
        for k in range(3_600):
            w = (fracs[:, k] * oi).astype(np.int64)
            want[:, k] = w
            gone = liq_lots[:, k] + w
            oi = np.maximum(oi + (target - oi) / OI_REVERT_S + oi_noise[:, k] * sd_s * oi - gone, 0.5 * oi) * grow[:, k]
            target = np.maximum(target - gone, 1.0) * grow[:, k]
            oi_out[:, k] = oi
        for i, st in enumerate(self._syms):
            st.oi, st.oi_target = float(oi[i]), float(target[i])
            d = per_sym[i]
            d["oi"] = oi_out[i].astype(np.int64).tolist()
            d["want"] = want[i].tolist()
        self._hour = per_sym

    def _hour_trades(self, st: _Sym, h0: int, drift: np.ndarray, volm: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
        sc, rng = st.sc, self._rng
        sl = sc.window(max(h0, self.start_ms), min(h0 + HOUR_MS, self.end_ms))
        m_ts = sc.ts_ms[sl]
        o, h, lo, c, v = sc.open[sl], sc.high[sl], sc.low[sl], sc.close[sl], sc.volume_lots[sl]
        minute_bias = bias[np.clip((m_ts - h0) // 1000 + 30, 0, 3_599)] if len(m_ts) else np.zeros(0)
        n_tr = trade_counts(rng, v, st.trades_per_min, st.median_lots)
        tr = minute_trades(rng, o, h, lo, c, v, n_tr, minute_bias)
        t_abs = m_ts[tr.minute] + tr.ms
        px, lots, buy = tr.px, tr.lots, tr.buy
        # planted volume: extra trades on top of the real ones, sized on a typical second
        extra = np.nonzero(volm > 1.001)[0]
        if len(extra):
            rate_s = st.trades_per_min / 60.0
            k = np.maximum(1, rng.poisson(rate_s * np.minimum(volm[extra] - 1.0, 6.0)))
            secs = np.repeat(extra, k)
            sec_lots = (volm[extra] - 1.0) * st.median_lots / 60.0 / k
            e_lots = np.maximum(1, np.rint(np.repeat(sec_lots, k) * rng.lognormal(-0.3, 0.8, len(secs)))).astype(np.int64)
            e_t = h0 + secs * 1000 + rng.integers(0, 1000, len(secs))
            ref = np.searchsorted(t_abs, e_t, side="right") - 1
            e_px = np.where(ref >= 0, px[np.maximum(ref, 0)], st.last_px)
            e_buy = rng.random(len(secs)) < np.clip(0.5 + bias[secs] + 0.25 * np.sign(drift[secs]), 0.03, 0.97)
            order = np.argsort(np.concatenate([t_abs, e_t]), kind="stable")
            t_abs = np.concatenate([t_abs, e_t])[order]
            px = np.concatenate([px, e_px])[order]
            lots = np.concatenate([lots, e_lots])[order]
            buy = np.concatenate([buy, e_buy])[order]
        sec = np.clip((t_abs - h0) // 1000, 0, 3_599)
        off = st.offset + np.cumsum(drift)
        if drift.any() or st.offset:
            px = np.maximum(1, np.rint(px * np.exp(off[sec]))).astype(np.int64)
        st.offset = float(off[-1])
        bounds = np.searchsorted(sec, np.arange(3_601))
        d = self._per_second(st, h0, px, lots, buy, bounds)
        liqs = self._liquidations(st, h0, m_ts, sl)
        by_sec: dict[int, list[tuple[int, int, bool]]] = {}
        for x in liqs:
            by_sec.setdefault((x[0] - h0) // 1000, []).append(x)
        d.update(t=t_abs, bounds=bounds.tolist(), liqs=liqs, liq_by_sec=by_sec, items=self._items(st, t_abs, px, lots, buy))
        return d

    def _per_second(self, st: _Sym, h0: int, px: np.ndarray, lots: np.ndarray, buy: np.ndarray,
                    bounds: np.ndarray) -> dict[str, Any]:
        """Per-second lists of the hour: last price and side (carried over quiet seconds), the 24 h
        ring's high, low, volume and turnover, and the funding rate and time."""
        n_sec = np.diff(bounds)
        has = n_sec > 0
        last_i = np.where(has, bounds[1:] - 1, -1)
        filled = np.maximum.accumulate(last_i)
        last_px = np.where(filled >= 0, px[np.maximum(filled, 0)] if len(px) else 0, st.last_px)
        last_buy = np.where(filled >= 0, buy[np.maximum(filled, 0)] if len(buy) else True, st.last_buy)
        hi, lo_, vol, turn = np.zeros(3_600), np.zeros(3_600), np.zeros(3_600), np.zeros(3_600)
        if len(px):
            starts = bounds[:-1][has]
            p = px * st.sc.tick
            q = lots * st.sc.qty_step
            hi[has] = np.maximum.reduceat(p, starts)
            lo_[has] = np.minimum.reduceat(p, starts)
            vol[has] = np.add.reduceat(q, starts)
            turn[has] = np.add.reduceat(p * q, starts)
        secs = h0 + np.arange(3_600) * 1000
        f_ts, f_rate = st.sc.funding_ts_ms, st.sc.funding_rate
        if len(f_ts) >= 2:
            k = np.searchsorted(f_ts, secs, side="right")
            step = int(f_ts[-1] - f_ts[-2])
            beyond = k >= len(f_ts)
            nft = np.where(beyond, f_ts[-1] + step * (1 + (secs - f_ts[-1]) // step), f_ts[np.minimum(k, len(f_ts) - 1)])
            rate = f_rate[np.minimum(k, len(f_ts) - 1)]
        else:
            nft = (secs // FUNDING_LABEL_EVERY_MS + 1) * FUNDING_LABEL_EVERY_MS
            rate = np.full(3_600, 0.0001)
        return {"last_px": last_px.astype(np.int64).tolist(), "last_buy": last_buy.astype(bool).tolist(),
                "has": has.tolist(), "hi": hi.tolist(), "lo": lo_.tolist(), "vol": vol.tolist(), "turn": turn.tolist(),
                "nft": nft.astype(np.int64).tolist(), "rate": rate.tolist()}

    def _liquidations(self, st: _Sym, h0: int, m_ts: np.ndarray, sl: slice) -> list[tuple[int, int, bool]]:
        """(time ms, lots, longs) of the hour: chance ones, and bursts when a minute moves too far."""
        rng, prof = self._rng, st.prof
        out: list[tuple[int, int, bool]] = []
        px_usd = max(float(st.last_px) * st.sc.tick, 1e-12)
        oi_usd = st.oi * st.sc.qty_step * px_usd
        z = np.abs(st.ret[sl]) / st.ret_sd[sl]
        for j in np.nonzero((z > LIQ_Z) & (np.abs(st.ret[sl]) > 0.002))[0].tolist():
            usd = oi_usd * min(0.02, 0.001 * (float(z[j]) - LIQ_Z + 1.0))
            parts = rng.dirichlet(np.ones(int(rng.integers(1, 7))))
            for share in parts.tolist():
                lots = int(usd * share / px_usd / st.sc.qty_step)
                if lots > 0:
                    out.append((int(m_ts[j]) + int(rng.integers(0, 60_000)), lots, bool(st.ret[sl][j] < 0)))
        rate = float(np.clip(math.sqrt(prof.turnover_usd_day / 1e9) / 240.0, 1 / 7_200.0, 1 / 30.0))
        k = int(rng.poisson(rate * 3_600))
        med_usd = float(np.clip(prof.turnover_usd_day / 1e6, 300.0, 30_000.0))
        for t, usd, lg in zip(rng.integers(0, HOUR_MS, k).tolist(), (med_usd * rng.lognormal(0, 1, k)).tolist(),
                              (rng.random(k) < 0.5).tolist()):
            lots = int(usd / px_usd / st.sc.qty_step)
            if lots > 0 and (len(m_ts) == 0 or h0 + t >= m_ts[0]):
                out.append((h0 + t, lots, lg))
        out.sort()
        return out

    def _items(self, st: _Sym, t_abs: np.ndarray, px: np.ndarray, lots: np.ndarray, buy: np.ndarray) -> list[dict[str, Any]]:
        if len(px) == 0:
            return []
        dirs, st.dir_px, st.up = _tick_dirs(px, st.dir_px, st.up)
        ids = list(map(str, range(self._trade_seq, self._trade_seq + len(px))))
        self._trade_seq += len(px)
        sym = st.sc.symbol
        p_str, v_str = st.book.prices.many(px), st.book.sizes.many(lots)
        sides = [_SIDES[b] for b in buy.tolist()]
        return [{"T": t, "s": sym, "S": sd, "v": v, "p": p, "L": d, "i": i, "BT": False}
                for t, sd, v, p, d, i in zip(t_abs.tolist(), sides, v_str, p_str, dirs, ids)]

    # ------------------------------------------------------------------ one second

    def _second(self, sec_ms: int) -> list[Message]:
        h0 = sec_ms - sec_ms % HOUR_MS
        if h0 != self._hour0:
            self._hour0 = h0
            self._draw_hour(h0)
            if self._started:
                for st in self._syms:
                    st.ticker.roll_hour(st.last_px * st.sc.tick)
        k = (sec_ms - h0) // 1000
        while self._pending_labels and self._pending_labels[0].start_ms < sec_ms + 1000:
            self.labels.append(self._pending_labels.pop(0))
        settle = sec_ms + 300_000
        if settle % FUNDING_LABEL_EVERY_MS == 0 and settle not in self._funding_labelled:
            self._funding_labelled.add(settle)
            self.labels.append(Episode("funding_time", MARKET_WIDE, sec_ms, 600, 1.0))
        out: list[Message] = []
        if not self._started:
            self._started = True
            for st in self._syms:
                b = st.last_px - 1
                out.append((st.book.snapshot(b, sec_ms, self._sizes(st)), sec_ms))
        ts = sec_ms + 999
        batch = self.trade_batch_ms
        hour = self._hour
        for j0 in range(0, 1000, batch):
            t_end = sec_ms + j0 + batch
            for st, d in zip(self._syms, hour):
                a, e = d["bounds"][k], d["bounds"][k + 1]
                if a == e:
                    continue
                if batch < 1000:
                    t = d["t"]
                    a, e = a + int(np.searchsorted(t[a:e], sec_ms + j0)), a + int(np.searchsorted(t[a:e], t_end))
                    if a == e:
                        continue
                out.append(({"topic": st.trade_topic, "type": "snapshot", "ts": t_end - 1, "data": d["items"][a:e]},
                            t_end - 1))
        for st, d in zip(self._syms, hour):
            st.last_px, st.last_buy = d["last_px"][k], d["last_buy"][k]
            if d["has"][k]:
                st.ticker.add(d["hi"][k], d["lo"][k], d["vol"][k], d["turn"][k])
            items = d["liq_by_sec"].get(k)
            want = d["want"][k]
            if items or want > 0:
                items = list(items or ())
                if want > 0:
                    items.append((sec_ms + 500, want, bool(d["liq_longs"][k])))
                out.append(({"topic": st.liq_topic, "type": "snapshot", "ts": ts, "data": self._liq_items(st, items)}, ts))
        book_now = (sec_ms // 1000) % self.book_every_s == 0
        for st, d in zip(self._syms, hour):
            rate = d["rate"][k]
            last = st.last_px
            book = None
            if book_now:
                book = st.book.delta(last - 1 if st.last_buy else last, ts, self._sizes(st), self._picks())
            out.append((st.ticker.message(ts, last, last, int(last * (1.0 - rate) + 0.5), d["oi"][k], rate, st.book.best_bid,
                                          st.book.bid_lots, st.book.best_bid + 1, st.book.ask_lots, d["nft"][k]), ts))
            if book is not None:
                out.append((book, ts))
        return out

    def _picks(self) -> list[int]:
        if not self._pick_pool:
            self._pick_pool = self._wire.integers(0, DEPTH - 2, 4_096).tolist()
        return [self._pick_pool.pop(), self._pick_pool.pop()]

    def _sizes(self, st: _Sym) -> Iterator[int]:
        if len(self._size_pool) < 128:
            self._size_pool = (np.rint(self._wire.lognormal(1.0, 0.8, 8_192))).astype(np.int64).tolist()
        pool = self._size_pool
        base = st.book_sizes
        return itertools.chain((base * pool.pop() + 1 for _ in range(64)), itertools.repeat(base))

    def _liq_items(self, st: _Sym, items: list[tuple[int, int, bool]]) -> list[dict[str, Any]]:
        (pd, pu), (qd, qu) = decimals_and_units(st.sc.tick), decimals_and_units(st.sc.qty_step)
        prices = fixed_strings(np.array([int(st.last_px * (0.9995 if lg else 1.0005)) for _, _, lg in items]) * pu, pd)
        sizes = fixed_strings(np.array([lots for _, lots, _ in items]) * qu, qd)
        return [{"T": t, "s": st.sc.symbol, "S": "Buy" if lg else "Sell", "v": v, "p": p}
                for (t, _, lg), v, p in zip(items, sizes, prices)]
