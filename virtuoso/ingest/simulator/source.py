"""SimulatorSource: the simulated market as a live :class:`virtuoso.ingest.base.Source`.

On start it first replays ``warmup_min`` simulated minutes of history that end at the clock's
now (trades batched per second to keep that burst small, and rate-limited so the engine's
bounded queue is not flooded), so charts have an hour of data at once. Then it goes live:
messages are released when their exchange time is reached, at ``settings.simulator.speed``
simulated seconds per wall second. Receive times come from the injected clock.

Which symbols: ``VIRTUOSO_SYMBOLS=all`` simulates the whole simulated universe (500 names, Zipf-like
turnover from ~$4B a day down to ~$4M, :func:`~virtuoso.ingest.simulator.profiles.simulated_universe`);
a list must name symbols of that universe, and a name outside it stops start-up with a message
saying which symbols can be simulated. Order books, as on Bybit, only for the focus list:
``VIRTUOSO_BYBIT__ORDERBOOK_SYMBOLS``, else the list, else with ``all`` the ``orderbook_top_n``
most liquid names.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from virtuoso.config import Settings, SettingsError
from virtuoso.domain.clock import Clock
from virtuoso.ingest.base import RawEmit
from virtuoso.ingest.simulator.market import SimMarket
from virtuoso.ingest.simulator.profiles import simulated_universe

WARMUP_MIN = 60
WARMUP_MAX_MSGS_PER_S = 50_000.0
LIVE_STEP_S = 10.0  # simulated seconds generated per run() call while live
MAX_WAIT_S = 0.1  # longest single wait, so stop is noticed promptly


class SimulatorSource:
    """Simulated Bybit v5 public stream for the watchlist in ``settings``; deterministic by seed."""

    name = "simulator"
    simulated = True
    can_block = True  # generated on demand: waiting for the pipeline loses nothing

    def __init__(self, settings: Settings, clock: Clock, *, warmup_min: int = WARMUP_MIN,
                 warmup_max_msgs_per_s: float = WARMUP_MAX_MSGS_PER_S) -> None:
        sim = settings.simulator
        self.clock = clock
        self.seed = sim.seed
        self.speed = float(sim.speed)
        self.warmup_min = max(0, int(warmup_min))
        self.warmup_max_msgs_per_s = warmup_max_msgs_per_s
        now_ms = clock.now_ms()
        self.live_start_ms = now_ms - now_ms % 1000
        self.symbols = simulated_symbols(settings)
        self.market = SimMarket(
            self.symbols,
            seed=sim.seed,
            start_ms=self.live_start_ms - self.warmup_min * 60_000,
            episodes_per_hour=sim.episodes_per_hour,
            market_moves_per_day=sim.market_moves_per_day,
            trade_batch_ms=1000,
            book_symbols=book_symbols(settings, self.symbols),
        )
        self.messages = 0
        self.phase = "idle"
        self._wall0 = time.monotonic()
        self._rate_mark = (self._wall0, 0)
        self._msgs_per_s = 0.0

    def resolve_symbols(self) -> list[str]:
        """The simulated symbols (checked at construction)."""
        return list(self.symbols)

    @property
    def live_from_ms(self) -> int:
        """Event time from which messages are live: alerts on the warm-up before it are history."""
        return self.live_start_ms if self.warmup_min > 0 else 0

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Warm-up history, then live paced messages until ``stop`` is set."""
        self._wall0 = time.monotonic()
        self._warmup(emit, stop)
        self.market.trade_batch_ms = 100
        self.phase = "live"
        sim0, wall0, speed = self.live_start_ms, self._wall0, self.speed
        now_ns = self.clock.now_ns
        while not stop.is_set():
            for msg, ts_ms in self.market.run(LIVE_STEP_S):
                while True:
                    ahead_s = (ts_ms - sim0) / 1000.0 / speed - (time.monotonic() - wall0)
                    if ahead_s <= 0:
                        break
                    if stop.wait(min(ahead_s, MAX_WAIT_S)):
                        self.phase = "stopped"
                        return
                emit(msg, now_ns())
                self.messages += 1
        self.phase = "stopped"

    def _warmup(self, emit: RawEmit, stop: threading.Event) -> None:
        if self.warmup_min <= 0:
            return
        self.phase = "warmup"
        started, n = time.monotonic(), 0
        now_ns = self.clock.now_ns
        for msg, _ts in self.market.run(self.warmup_min * 60):
            emit(msg, now_ns())
            n += 1
            self.messages += 1
            if n % 500 == 0:
                if stop.is_set():
                    return
                lead_s = n / self.warmup_max_msgs_per_s - (time.monotonic() - started)
                if lead_s > 0 and stop.wait(lead_s):
                    return

    def health(self) -> dict[str, Any]:
        """Counters for the health page: messages, rate, episodes so far, seed and simulated time."""
        now = time.monotonic()
        t0, n0 = self._rate_mark
        if now - t0 >= 1.0:
            self._msgs_per_s = (self.messages - n0) / (now - t0)
            self._rate_mark = (now, self.messages)
        labels = self.market.labels
        return {
            "phase": self.phase,
            "messages": self.messages,
            "msgs_per_s": round(self._msgs_per_s, 1),
            "episodes": len(labels),
            "last_episode": labels[-1].to_dict() if labels else None,
            "seed": self.seed,
            "speed": self.speed,
            "warmup_min": self.warmup_min,
            "sim_time_ms": self.market.now_ms,
        }


def simulated_symbols(settings: Settings) -> list[str]:
    """``all``: the simulated universe; a list: checked against it (SettingsError naming the rest)."""
    names = simulated_universe()
    if settings.follows_all:
        return names
    known = set(names)
    unknown = [s for s in settings.symbols if s not in known]
    if unknown:
        raise SettingsError(
            f"VIRTUOSO_SYMBOLS: the simulator cannot simulate {', '.join(unknown)}; it simulates {len(names)} "
            f"symbols: {', '.join(names[:12])}, ... (VIRTUOSO_SYMBOLS=all simulates every one)")
    return list(settings.symbols)


def book_symbols(settings: Settings, symbols: list[str]) -> list[str] | None:
    """Symbols with order-book messages (None: every one)."""
    b = settings.bybit
    if b.orderbook_symbols:
        return [s for s in b.orderbook_symbols if s in set(symbols)]
    if settings.follows_all:
        return symbols[: b.orderbook_top_n]  # the universe is ordered most liquid first
    return None
