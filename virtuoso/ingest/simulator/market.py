"""The simulated market: a deterministic stream of Bybit v5 public linear messages.

The numbers are drawn a minute at a time for all symbols at once (:mod:`.dynamics`, numpy, one
seeded Generator per concern, no global state); this module turns them into Bybit messages.
Chunks sit on a fixed grid from ``start_ms``, so the stream does not depend on how ``run`` is
called (``run(600)`` equals ``run(300)`` twice).

Per second and symbol the stream holds the trades batched per ``trade_batch_ms`` (100 ms, like
Bybit), any liquidations, one ticker delta and one order-book delta, in time order. The very
first second starts with a ticker and an order-book snapshot per symbol. See docs/simulator.md.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterator, Sequence

import numpy as np

from virtuoso.ingest.simulator.book import DEPTH, Ladder
from virtuoso.ingest.simulator.dynamics import SLICES, Chunk, MarketVars, Mods, Statics, draw_chunk
from virtuoso.ingest.simulator.episodes import EPISODE_KINDS, MARKET_WIDE, Episode, effect
from virtuoso.ingest.simulator.fmt import decimals_and_units, fixed_strings
from virtuoso.ingest.simulator.planner import Planner
from virtuoso.ingest.simulator.profiles import FACTOR_DAILY_VOL, SymbolProfile, profile_for
from virtuoso.ingest.simulator.ticker import TickerState

CHUNK_S = 60
_SIDES = np.array(["Sell", "Buy"], dtype=object)
_TICK_DIRS = np.array(["PlusTick", "MinusTick", "ZeroPlusTick", "ZeroMinusTick"], dtype=object)
BOOK_GRID_SIGMAS = 1.0
Message = tuple[dict[str, Any], int]


class SimMarket:
    """A deterministic simulated market for ``symbols``; ``run`` yields ``(message, ts_ms)``.

    Each symbol's market (liquidity, tails, noise, factor loading) is drawn from ``(seed,
    symbol)``: see :mod:`.profiles` (``self.profiles``). ``labels`` lists every episode that has
    started so far (scheduled, random, hard negatives, block prints). ``quiet=True`` plants no
    manipulation (a scheduled one is an error); the hard negatives stay. ``trade_batch_ms``
    (100..1000) may change between ``run`` calls: SimulatorSource batches a whole second of trades
    per message while it replays warm-up history. ``volatile_per_day``, ``trend_per_day``,
    ``listing_per_day`` (per symbol) and ``funding_windows`` tune the hard negatives.
    ``book_symbols`` limits order-book messages to those symbols (None: every symbol).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        seed: int,
        start_ms: int,
        episodes_per_hour: float = 0.5,
        market_moves_per_day: float = 3.0,
        scheduled: Sequence[Episode] = (),
        volatile_per_day: float = 1.0,
        funding_windows: bool = True,
        trade_batch_ms: int = 100,
        quiet: bool = False,
        trend_per_day: float = 0.15,
        listing_per_day: float = 0.05,
        book_symbols: Sequence[str] | None = None,
    ) -> None:
        self.symbols = list(dict.fromkeys(symbols))
        if not self.symbols:
            raise ValueError("SimMarket needs at least one symbol")
        if quiet and any(ep.kind in EPISODE_KINDS for ep in scheduled):
            raise ValueError("a quiet SimMarket plants no manipulation: drop the scheduled ones")
        self.quiet = bool(quiet)
        self.seed = int(seed)
        self._book_on = [book_symbols is None or s in set(book_symbols) for s in self.symbols]
        self.start_ms = int(start_ms) - int(start_ms) % 1000
        self.trade_batch_ms = trade_batch_ms
        plan_ss, mkt_ss, wire_ss = np.random.SeedSequence(self.seed).spawn(3)
        self._rng = np.random.Generator(np.random.PCG64(mkt_ss))
        self._wire = np.random.Generator(np.random.PCG64(wire_ss))
        self.profiles: list[SymbolProfile] = [profile_for(s, self.seed) for s in self.symbols]
        self.planner = Planner(self.symbols, np.random.Generator(np.random.PCG64(plan_ss)), self.start_ms,
                               episodes_per_hour, market_moves_per_day, volatile_per_day, funding_windows,
                               tuple(scheduled), profiles=dict(zip(self.symbols, self.profiles)),
                               trend_per_day=trend_per_day, listing_per_day=listing_per_day, quiet=self.quiet)
        self.labels: list[Episode] = []
        self.messages = 0
        self._active: list[Episode] = []
        self._t_ms = self.start_ms
        self._target_ms = float(self.start_ms)
        self._trade_seq = 0
        self._chunk_seq0 = 0
        self._chunk: Chunk | None = None
        self._chunk0_ms = -1
        self._setup()

    def _setup(self) -> None:
        rng, n = self._rng, len(self.symbols)
        pr = self.profiles
        self._trade_topics = [f"publicTrade.{s}" for s in self.symbols]
        sigma_s = np.array([p.daily_vol for p in pr]) / math.sqrt(86_400.0)
        grid = [max(1, round(BOOK_GRID_SIGMAS * p.price * sigma_s[i] / p.tick)) for i, p in enumerate(pr)]
        arr = np.array
        prints_per_order = arr([1.0 + p.sweep_share * (p.sweep_mean_trades - 1.0) for p in pr])
        turnover = arr([p.turnover_usd_day for p in pr])
        self._st = Statics(
            tick=arr([p.tick for p in pr]),
            qstep=arr([p.qty_step for p in pr]),
            idio_s=arr([p.idio_daily_vol for p in pr]) / math.sqrt(86_400.0),
            factor_s=FACTOR_DAILY_VOL / math.sqrt(86_400.0),
            beta=arr([p.beta for p in pr]),
            lag_slices=arr([p.lag_ms // 100 for p in pr], dtype=np.int64),
            t_df=arr([p.t_df for p in pr]),
            order_rate_slice=arr([p.trades_per_s for p in pr]) / prints_per_order / SLICES,
            size_alpha=arr([p.size_alpha for p in pr]),
            size_min_usd=arr([p.size_min_usd for p in pr]),
            sweep_share=arr([p.sweep_share for p in pr]),
            sweep_lam=arr([p.sweep_mean_trades - 2.0 for p in pr]),
            sweep_step=arr([max(1, g // 4) for g in grid], dtype=np.int64),
            block_rate_s=arr([p.blocks_per_hour for p in pr]) / 3_600.0,
            block_bt_share=arr([p.block_bt_share for p in pr]),
            block_usd=turnover / 1_440.0,
            oi_sd_s=arr([p.oi_hourly_sd for p in pr]) / 60.0,
            season_amp=arr([p.season_amp for p in pr]),
            season_peak_h=arr([p.season_peak_h for p in pr]),
            slow_sd=arr([p.vol_of_vol for p in pr]),
            liq_rate_s=np.clip(np.sqrt(turnover / 1.0e9) / 240.0, 1.0 / 7_200.0, 1.0 / 30.0),
            liq_usd=np.clip(turnover / 1.0e6, 300.0, 30_000.0),
            jumps_per_s=arr([p.jumps_per_day for p in pr]) / 86_400.0,
        )
        oi = arr([p.oi_usd / p.price for p in pr])
        self._v = MarketVars(np.log([p.price for p in pr]), np.ones(n), rng.normal(0.0, 1.0, n) * self._st.slow_sd,
                             oi, oi.copy(), rng.normal(0.0, 0.00005, n), fast=np.zeros(n))
        # Book grid: about one typical one-second move, so a delta touches a few levels.
        self._books = [Ladder(s, p.tick, grid[i], p.qty_step) for i, (s, p) in enumerate(zip(self.symbols, pr))]
        self._tickers = [TickerState(s, p.tick, p.qty_step, b.prices, b.sizes) for s, p, b in zip(self.symbols, pr, self._books)]
        self._units = [(decimals_and_units(p.tick), decimals_and_units(p.qty_step)) for p in pr]
        for i, p in enumerate(pr):
            hourly_volume = p.turnover_usd_day / 24.0 / p.price
            opens = np.exp(np.cumsum(rng.normal(0.0, p.daily_vol / math.sqrt(24), 23))[::-1]).tolist()
            ranges = (np.abs(rng.normal(0.0, p.daily_vol / math.sqrt(24), 23)) + p.daily_vol / 20).tolist()
            self._tickers[i].seed(p.price, hourly_volume, ranges, opens)
        self._last_px = [0] * n
        self._up = [True] * n
        self._started = False
        self._extra_sizes = self._size_stream()
        self._block_labels: list[list[Episode]] = [[] for _ in range(CHUNK_S)]

    # ------------------------------------------------------------------ public

    @property
    def now_ms(self) -> int:
        """Start of the next simulated second."""
        return self._t_ms

    def run(self, duration_s: float) -> Iterator[Message]:
        """Yield ``(message, ts_ms)`` for the next ``duration_s`` simulated seconds, time-ordered.

        Calling it again continues where the previous call stopped (whole seconds; a fraction
        carries over to the next call).
        """
        self._target_ms += float(duration_s) * 1000.0
        while self._t_ms + 1000 <= self._target_ms + 1e-6:
            out = self._second(self._t_ms)
            self._t_ms += 1000
            self.messages += len(out)
            yield from out

    # ------------------------------------------------------------------ chunks

    def _size_stream(self) -> Iterator[int]:
        while True:
            yield from (self._wire.lognormal(2.0, 0.8, 256).astype(np.int64) + 1).tolist()

    def _ensure_chunk(self, sec_ms: int) -> int:
        """Index of ``sec_ms`` in the current chunk, drawing the chunk it belongs to if needed."""
        c0 = self.start_ms + (sec_ms - self.start_ms) // (CHUNK_S * 1000) * (CHUNK_S * 1000)
        if c0 != self._chunk0_ms:
            self._chunk0_ms = c0
            self._starts = [self.planner.due(c0 + k * 1000) for k in range(CHUNK_S)]
            mods = self._mods(c0)
            self._chunk = draw_chunk(self._rng, self._st, self._v, mods, c0, CHUNK_S)
            self._block_labels = [[] for _ in range(CHUNK_S)]
            for i, t_ms, mult in self._chunk.blocks:
                self._block_labels[(t_ms - c0) // 1000].append(
                    Episode("block_print", self.symbols[i], t_ms - t_ms % 1000, 1, round(mult, 3)))
            self._csum = [0, *np.cumsum(self._chunk.counts).tolist()]
            self._chunk_seq0 = self._trade_seq
            self._trade_seq += self._csum[-1]
            self._format_trades(self._chunk, c0)
            ch = self._chunk
            self._lists = (ch.high.tolist(), ch.low.tolist(), ch.volume.tolist(), ch.turnover.tolist(),
                           (ch.oi / self._st.qstep[:, None]).astype(np.int64).tolist(), ch.prem.tolist(),
                           ch.bid_end.tolist(), ch.liq_want_lots.tolist(), ch.liq_longs.tolist())
            n = len(self.symbols)
            self._pool = (self._wire.lognormal(2.0, 0.8, (n, CHUNK_S, 8)).astype(np.int64) + 1).tolist()
            self._picks = self._wire.integers(0, DEPTH - 2, (n, CHUNK_S, 2)).tolist()
        return (sec_ms - c0) // 1000

    def _format_trades(self, ch: Chunk, c0_ms: int) -> None:
        """Build every trade item of the chunk (Bybit ``publicTrade`` data objects), symbol by symbol.

        Done in bulk with list comprehensions over precomputed columns: prices and sizes from the
        symbol's string caches, tick directions (``L``) vectorised with a forward fill.
        """
        csum, block = self._csum, CHUNK_S * SLICES
        n_tr = csum[-1]
        ids = list(map(str, range(self._chunk_seq0, self._chunk_seq0 + n_tr)))
        px = ch.px
        sides = _SIDES[ch.buy.astype(np.int64)].tolist()
        bts = ch.bt.tolist()
        self._items: list[dict[str, Any]] = []
        px_l = px.tolist()
        self._sec_last_px = []
        for i, sym in enumerate(self.symbols):
            a, e = csum[i * block], csum[(i + 1) * block]
            last_px, lasts = self._last_px[i], []
            for c in range(CHUNK_S):
                k = csum[i * block + (c + 1) * SLICES]
                if k > csum[i * block + c * SLICES]:
                    last_px = px_l[k - 1]
                lasts.append(last_px)
            self._sec_last_px.append(lasts)
            if a == e:
                continue
            p = px[a:e]
            step = np.sign(np.diff(p, prepend=self._last_px[i] or p[0]))
            last_dir = 1 if self._up[i] else -1
            nz = np.where(step != 0, np.arange(e - a), -1)
            filled = np.maximum.accumulate(nz)
            carried = np.where(filled >= 0, step[np.maximum(filled, 0)], last_dir)
            codes = np.where(step > 0, 0, np.where(step < 0, 1, np.where(carried > 0, 2, 3)))
            tdirs = _TICK_DIRS[codes].tolist()
            self._last_px[i], self._up[i] = int(p[-1]), bool(carried[-1] > 0)
            book = self._books[i]
            p_str = book.prices.many(p)
            v_str = book.sizes.many(ch.lots[a:e])
            times = ch.t_abs_ms[a:e]
            self._items += [{"T": t, "s": sym, "S": sd, "v": v, "p": pr, "L": d, "i": tid, "BT": b}
                            for t, sd, v, pr, d, tid, b in zip(times, sides[a:e], v_str, p_str, tdirs, ids[a:e], bts[a:e])]

    def _mods(self, c0_ms: int) -> Mods:
        n = len(self.symbols)
        mods = Mods.neutral(n, CHUNK_S)
        end_ms = c0_ms + CHUNK_S * 1000
        self._active = [ep for ep in self._active if ep.end_ms > c0_ms] + [ep for s in self._starts for ep in s]
        index = {s: i for i, s in enumerate(self.symbols)}
        betas = self._st.beta
        for ep in self._active:
            k_first = max(0, -(-(ep.start_ms - c0_ms) // 1000))
            k_last = min(CHUNK_S, -(-(ep.end_ms - c0_ms) // 1000))
            if k_first >= k_last or ep.start_ms >= end_ms:
                continue
            if ep.symbol == MARKET_WIDE:
                rows = slice(None)
            elif ep.symbol in index:
                rows = slice(index[ep.symbol], index[ep.symbol] + 1)
            else:
                continue
            vals = [effect(ep, (c0_ms + k * 1000 - ep.start_ms) // 1000) for k in range(k_first, k_last)]
            cols = [np.array(col) for col in zip(*vals)]
            sl = slice(k_first, k_last)
            if ep.symbol == MARKET_WIDE:
                # The market's move goes through the factor: each symbol follows by its beta, late by its lag.
                mods.factor_drift[sl] += cols[0]
                liq = cols[5][None, :] * betas[:, None]
            else:
                mods.drift[rows, sl] += cols[0]
                liq = cols[5][None, :]
            mods.vol[rows, sl] *= cols[1]
            mods.volume[rows, sl] *= cols[2]
            mods.bias[rows, sl] += cols[3]
            mods.oi[rows, sl] += cols[4]
            mods.liq_longs[rows, sl] = np.where(liq >= mods.liq_frac[rows, sl], cols[6].astype(bool), mods.liq_longs[rows, sl])
            mods.liq_frac[rows, sl] += liq
        return mods

    # ------------------------------------------------------------------ one second

    def _second(self, sec_ms: int) -> list[Message]:
        c = self._ensure_chunk(sec_ms)
        ch = self._chunk
        assert ch is not None
        self.labels.extend(self._starts[c])
        self.labels.extend(self._block_labels[c])
        out: list[Message] = []
        if not self._started:
            self._started = True
            out.extend(self._snapshots(sec_ms, ch))
        if (sec_ms - self.start_ms) % 3_600_000 == 0 and sec_ms != self.start_ms:
            for i, t in enumerate(self._tickers):
                t.roll_hour(self._books[i].best_bid * self.profiles[i].tick)
        self._trades(sec_ms, c, out)
        high, low, volume, turnover, oi_lots, prem_l, bid_end, want_l, longs_l = self._lists
        ts = sec_ms + 999
        for i, sym in enumerate(self.symbols):
            base = ch.liq_base_lots[i][c]
            want = want_l[i][c]
            if base or want:
                out.append(({"topic": f"allLiquidation.{sym}", "type": "snapshot", "ts": ts,
                             "data": self._liquidations(i, sec_ms, ch, c, base, want, longs_l[i][c], bid_end[i][c])}, ts))
        pool, picks, extra, book_on = self._pool, self._picks, self._extra_sizes, self._book_on
        for i in range(len(self.symbols)):
            tk, bk = self._tickers[i], self._books[i]
            tk.add(high[i][c], low[i][c], volume[i][c], turnover[i][c])
            nb = bid_end[i][c]
            book = bk.delta(nb, ts, itertools.chain(pool[i][c], extra), picks[i][c])
            prem = prem_l[i][c]
            funding = min(0.0025, max(-0.0025, 0.0001 + prem))
            out.append((tk.message(ts, self._sec_last_px[i][c] or nb, nb, int(nb * (1.0 - prem) + 0.5), oi_lots[i][c], funding,
                                   nb, bk.bid_lots, nb + 1, bk.ask_lots), ts))
            if book_on[i]:
                out.append((book, ts))
        return out

    def _snapshots(self, sec_ms: int, ch: Chunk) -> list[Message]:
        out: list[Message] = []
        for i, bk in enumerate(self._books):
            b0 = int(ch.bid_first[i])
            book = bk.snapshot(b0, sec_ms, self._extra_sizes)
            self._last_px[i] = b0
            oi_lots = int(self._v.oi[i] / self.profiles[i].qty_step)
            out.append((self._tickers[i].message(sec_ms, b0, b0, b0, oi_lots, 0.0001, b0, bk.bid_lots, b0 + 1,
                                                 bk.ask_lots), sec_ms))
            if self._book_on[i]:
                out.append((book, sec_ms))
        return out

    def _trades(self, sec_ms: int, c: int, out: list[Message]) -> None:
        batch = max(1, min(SLICES, int(self.trade_batch_ms) // 100))
        csum, items, topics = self._csum, self._items, self._trade_topics
        for j0 in range(0, SLICES, batch):
            j1 = min(SLICES, j0 + batch)
            ts = sec_ms + j1 * 100 - 1
            for i in range(len(self.symbols)):
                base = (i * CHUNK_S + c) * SLICES
                a, e = csum[base + j0], csum[base + j1]
                if a != e:
                    out.append(({"topic": topics[i], "type": "snapshot", "ts": ts, "data": items[a:e]}, ts))

    def _liquidations(self, i: int, sec_ms: int, ch: Chunk, c: int, base: list[int], want: int, want_longs: bool,
                      bid: int) -> list[dict[str, Any]]:
        """Items of one ``allLiquidation`` message. Bybit: ``S="Buy"`` means a long was liquidated."""
        lots = list(base)
        longs = list(ch.liq_base_longs[i][c])
        if want > 0:
            w = self._wire.random(1 + int(self._wire.poisson(3.0))) + 0.2
            parts = np.floor(w / w.sum() * want).astype(np.int64)
            parts[-1] += want - int(parts.sum())
            for x in parts.tolist():
                if x > 0:
                    lots.append(x)
                    longs.append(want_longs)
        times = sorted(self._wire.integers(0, 999, len(lots)).tolist())
        (pd, pu), (qd, qu) = self._units[i]
        prices = fixed_strings(np.array([int(bid * (0.9995 if lg else 1.0005)) for lg in longs]) * pu, pd)
        sizes = fixed_strings(np.array(lots) * qu, qd)
        sym = self.symbols[i]
        return [{"T": sec_ms + t, "s": sym, "S": "Buy" if lg else "Sell", "v": v, "p": p}
                for t, v, p, lg in zip(times, sizes, prices, longs)]
