"""When episodes happen: scheduled ones, random manipulation-like ones, and hard negatives.

Planning runs ahead of the simulated clock in one-hour blocks (market-wide events two hours
ahead, per-symbol ones one hour ahead) so every event is known before it starts. Random
episodes on one symbol never overlap each other, a market-wide event, or a scheduled episode
(with ``GAP_S`` seconds between them), so every label describes one clean pattern; the long
background regimes (trend days, listing days) are the exception: manipulation can happen on a
trending coin. Funding-time windows are at every 00/08/16 UTC and are planned regardless (a
scheduled episode may overlap one if the caller puts it there).

A random manipulation's size is drawn log-uniformly from its kind's range, raised to the
symbol's own noise floor (:func:`noise_floor`): at least ``FLOOR_SD`` standard deviations of the
symbol's calm noise over the episode's duration, so a label is something abnormal *for that
coin* (a 2 % OI build is noise on a thin coin whose OI wanders 2 % an hour). In quiet mode no
manipulation is planted at all; the hard negatives still are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from virtuoso.ingest.simulator.episodes import (
    AMPLITUDE_RANGES,
    BACKGROUND_KINDS,
    DURATION_RANGES_S,
    EPISODE_KINDS,
    MARKET_WIDE,
    SIGNED_KINDS,
    STEALTH_OI_AMPLITUDE,
    STEALTH_OI_DURATION_S,
    STEALTH_OI_SHARE,
    Episode,
)
from virtuoso.ingest.simulator.profiles import SymbolProfile

GAP_S = 120  # quiet seconds kept between two episodes on one symbol
BLOCK_MS = 3_600_000
FUNDING_EVERY_MS = 8 * 3_600_000
FUNDING_LEAD_S = 300  # the funding window starts this long before the funding time
FLOOR_SD = 5.0
PRICE_KINDS = frozenset({"pump_and_dump", "price_move", "liquidation_cascade"})
OI_KINDS = frozenset({"oi_surge", "oi_price_divergence"})


def noise_floor(kind: str, profile: SymbolProfile, duration_s: float) -> float:
    """Smallest |amplitude| of a random ``kind`` episode on this symbol: FLOOR_SD sds of its noise."""
    if kind in PRICE_KINDS:
        return FLOOR_SD * profile.daily_vol * math.sqrt(duration_s / 86_400.0)
    if kind in OI_KINDS:
        return FLOOR_SD * profile.oi_hourly_sd * math.sqrt(duration_s / 3_600.0)
    if kind == "volume_spike":  # a multiple: fewer trades in the window, noisier volume
        return 3.0 * (1.0 + 3.0 / math.sqrt(max(1.0, profile.trades_per_s * duration_s)))
    return 0.0


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
    profiles: dict[str, SymbolProfile] = field(default_factory=dict)
    trend_per_day: float = 0.15
    listing_per_day: float = 0.05
    quiet: bool = False
    _pending: list[Episode] = field(default_factory=list)
    _busy: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _wide_until_ms: int = 0
    _sym_until_ms: int = 0

    def __post_init__(self) -> None:
        self._wide_until_ms = self._sym_until_ms = self.start_ms
        for ep in self.scheduled:
            self._add(ep)

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
                    self._add(Episode("funding_time", MARKET_WIDE, start, 2 * FUNDING_LEAD_S, self._amplitude("funding_time")))
        for _ in range(int(rng.poisson(self.market_moves_per_day / 24.0))):
            start, dur = self._start(lo_ms, hi_ms), self._duration("market_move")
            amp = self._amplitude("market_move")
            if self._free(None, start, start + dur * 1000):
                self._add(Episode("market_move", MARKET_WIDE, start, dur, amp))

    def _plan_symbols(self, lo_ms: int, hi_ms: int) -> None:
        rng = self.rng
        for sym in self.symbols:
            for kind, per_day in (("trend_day", self.trend_per_day), ("listing_day", self.listing_per_day)):
                for _ in range(int(rng.poisson(per_day / 24.0))):
                    start, dur, amp = self._start(lo_ms, hi_ms), self._duration(kind), self._amplitude(kind)
                    self._pending_add(Episode(kind, sym, start, dur, amp))
            kinds = ["volatile_normal"] * int(rng.poisson(self.volatile_per_day / 24.0))
            n_manip = int(rng.poisson(self.episodes_per_hour))
            kinds += [EPISODE_KINDS[int(rng.integers(len(EPISODE_KINDS)))] for _ in range(n_manip)]
            for kind in kinds:
                start = self._start(lo_ms, hi_ms)
                stealth = kind == "oi_surge" and rng.random() < STEALTH_OI_SHARE
                dur = int(rng.integers(*STEALTH_OI_DURATION_S)) if stealth else self._duration(kind)
                amp = self._amplitude(kind, STEALTH_OI_AMPLITUDE if stealth else None,
                                      noise_floor(kind, self.profiles[sym], dur) if sym in self.profiles else 0.0)
                if self.quiet and kind in EPISODE_KINDS:
                    continue  # drawn all the same: the planner's other draws stay in step with a normal run
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

    def _amplitude(self, kind: str, span: tuple[float, float] | None = None, floor: float = 0.0) -> float:
        lo, hi = span or AMPLITUDE_RANGES[kind]
        if floor > lo:  # shift the range up to the symbol's noise floor (no pile-up at the floor)
            lo, hi = floor, max(hi, 2.0 * floor)
        a = math.exp(self.rng.uniform(math.log(lo), math.log(hi)))
        if kind in SIGNED_KINDS:
            p_negative = 0.7 if kind == "liquidation_cascade" else 0.5
            a = -a if self.rng.random() < p_negative else a
        return round(a, 4)

    # -------------------------------------------------------------- bookkeeping

    def _pending_add(self, ep: Episode) -> None:
        self._pending.append(ep)
        self._pending.sort(key=lambda e: (e.start_ms, e.symbol, e.kind))

    def _add(self, ep: Episode) -> None:
        if ep.kind not in BACKGROUND_KINDS:
            self._busy.setdefault(ep.symbol, []).append((ep.start_ms, ep.end_ms))
        self._pending_add(ep)

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
