"""When episodes happen: scheduled ones, random manipulation-like ones, and hard negatives.

Planning runs ahead of the simulated clock in one-hour blocks (market-wide events two hours
ahead, per-symbol ones one hour ahead) so every event is known before it starts. Random
episodes on one symbol never overlap each other, a market-wide event, or a scheduled episode
(with ``GAP_S`` seconds between them), so every label describes one clean pattern. Funding-time
windows are at every 00/08/16 UTC and are planned regardless (a scheduled episode may overlap
one if the caller puts it there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from virtuoso.ingest.simulator.episodes import (
    AMPLITUDE_RANGES,
    DURATION_RANGES_S,
    EPISODE_KINDS,
    MARKET_WIDE,
    SIGNED_KINDS,
    Episode,
)

GAP_S = 120  # quiet seconds kept between two episodes on one symbol
BLOCK_MS = 3_600_000
FUNDING_EVERY_MS = 8 * 3_600_000
FUNDING_LEAD_S = 300  # the funding window starts this long before the funding time
MOST_SYMBOLS_P = 0.85  # share of symbols that follow a market-wide move


@dataclass
class Planner:
    """Produces episodes in start order; :meth:`due` hands out those that have started."""

    symbols: list[str]
    rng: np.random.Generator
    start_ms: int
    episodes_per_hour: float
    market_moves_per_day: float
    volatile_per_day: float
    funding_windows: bool
    scheduled: tuple[Episode, ...] = ()
    betas: dict[Episode, np.ndarray] = field(default_factory=dict)
    _pending: list[Episode] = field(default_factory=list)
    _busy: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _wide_until_ms: int = 0
    _sym_until_ms: int = 0

    def __post_init__(self) -> None:
        self._wide_until_ms = self._sym_until_ms = self.start_ms
        for ep in self.scheduled:
            self._add(ep)
            if ep.symbol == MARKET_WIDE:
                self.betas[ep] = np.ones(len(self.symbols))

    def due(self, now_ms: int) -> list[Episode]:
        """Episodes starting at or before ``now_ms`` not handed out yet, in start order."""
        self._plan(now_ms)
        if not self._pending or self._pending[0].start_ms > now_ms:
            return []
        n = 0
        while n < len(self._pending) and self._pending[n].start_ms <= now_ms:
            n += 1
        out, self._pending = self._pending[:n], self._pending[n:]
        self._prune(now_ms)
        return out

    # -------------------------------------------------------------- planning

    def _plan(self, now_ms: int) -> None:
        while self._wide_until_ms < now_ms + 2 * BLOCK_MS:
            self._plan_wide(self._wide_until_ms, self._wide_until_ms + BLOCK_MS)
            self._wide_until_ms += BLOCK_MS
        while self._sym_until_ms < now_ms + BLOCK_MS:
            self._plan_symbols(self._sym_until_ms, self._sym_until_ms + BLOCK_MS)
            self._sym_until_ms += BLOCK_MS

    def _plan_wide(self, lo_ms: int, hi_ms: int) -> None:
        rng = self.rng
        if self.funding_windows:
            first = -(-(lo_ms + FUNDING_LEAD_S * 1000) // FUNDING_EVERY_MS) * FUNDING_EVERY_MS
            for f_ms in range(first, hi_ms + FUNDING_LEAD_S * 1000, FUNDING_EVERY_MS):
                start = f_ms - FUNDING_LEAD_S * 1000
                if lo_ms <= start < hi_ms and start >= self.start_ms:
                    ep = Episode("funding_time", MARKET_WIDE, start, 2 * FUNDING_LEAD_S, self._amplitude("funding_time"))
                    self._add(ep)
                    self.betas[ep] = np.ones(len(self.symbols))
        for _ in range(int(rng.poisson(self.market_moves_per_day / 24.0))):
            start, dur = self._start(lo_ms, hi_ms), self._duration("market_move")
            amp = self._amplitude("market_move")
            betas = np.where(rng.random(len(self.symbols)) < MOST_SYMBOLS_P,
                             rng.uniform(0.7, 1.4, len(self.symbols)), rng.uniform(0.0, 0.3, len(self.symbols)))
            if self._free(None, start, start + dur * 1000):
                ep = Episode("market_move", MARKET_WIDE, start, dur, amp)
                self._add(ep)
                self.betas[ep] = betas

    def _plan_symbols(self, lo_ms: int, hi_ms: int) -> None:
        rng = self.rng
        for sym in self.symbols:
            kinds = ["volatile_normal"] * int(rng.poisson(self.volatile_per_day / 24.0))
            kinds += [EPISODE_KINDS[int(rng.integers(len(EPISODE_KINDS)))]
                      for _ in range(int(rng.poisson(self.episodes_per_hour)))]
            for kind in kinds:
                start, dur, amp = self._start(lo_ms, hi_ms), self._duration(kind), self._amplitude(kind)
                start = self._first_free(sym, start, dur, hi_ms)
                if start is not None:
                    self._add(Episode(kind, sym, start, dur, amp))

    # -------------------------------------------------------------- draws

    def _start(self, lo_ms: int, hi_ms: int) -> int:
        lo = max(lo_ms, self.start_ms + 60_000)  # the first minute of a stream stays calm
        return int(self.rng.integers(lo // 1000, max(lo // 1000 + 1, hi_ms // 1000))) * 1000

    def _duration(self, kind: str) -> int:
        lo, hi = DURATION_RANGES_S[kind]
        return int(self.rng.integers(lo, hi + 1))

    def _amplitude(self, kind: str) -> float:
        lo, hi = AMPLITUDE_RANGES[kind]
        a = math.exp(self.rng.uniform(math.log(lo), math.log(hi)))
        if kind in SIGNED_KINDS:
            p_negative = 0.7 if kind == "liquidation_cascade" else 0.5
            a = -a if self.rng.random() < p_negative else a
        return round(a, 4)

    # -------------------------------------------------------------- bookkeeping

    def _add(self, ep: Episode) -> None:
        self._busy.setdefault(ep.symbol, []).append((ep.start_ms, ep.end_ms))
        self._pending.append(ep)
        self._pending.sort(key=lambda e: (e.start_ms, e.symbol, e.kind))

    def _free(self, symbol: str | None, start_ms: int, end_ms: int) -> bool:
        """No episode on ``symbol`` (every symbol when None) or market-wide within the gap."""
        lo, hi = start_ms - GAP_S * 1000, end_ms + GAP_S * 1000
        keys = list(self._busy) if symbol is None else [symbol, MARKET_WIDE]
        return not any(s < hi and e > lo for k in keys for s, e in self._busy.get(k, ()))

    def _first_free(self, symbol: str, start_ms: int, dur_s: int, block_end_ms: int) -> int | None:
        """``start_ms`` or the earliest later start in the block that overlaps nothing."""
        while start_ms < block_end_ms:
            end = start_ms + dur_s * 1000
            clash = [e for k in (symbol, MARKET_WIDE) for s, e in self._busy.get(k, ())
                     if s < end + GAP_S * 1000 and e > start_ms - GAP_S * 1000]
            if not clash:
                return start_ms
            start_ms = max(clash) + GAP_S * 1000
        return None

    def _prune(self, now_ms: int) -> None:
        horizon = now_ms - 3 * BLOCK_MS
        for k, spans in self._busy.items():
            if spans and spans[0][1] < horizon:
                self._busy[k] = [sp for sp in spans if sp[1] >= horizon]
