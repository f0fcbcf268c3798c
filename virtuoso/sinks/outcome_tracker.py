"""Measures each event's outcome as its horizons pass and publishes each new stage.

Every ``interval_s`` the tracker looks at the events whose outcome is not final. For one whose
next horizon's minute has closed (event time: the bars are there, so a replay measures like a live
feed), it reads the symbol's bars from 24 h before the event to 4 h after it and measures it
(:func:`virtuoso.alerting.outcomes.compute_outcome`). A new stage (5m, 1h, 4h) is stored and
handed back as an outcome update, which the delivery service commits to the outbox: the relay
sends it on ``alerts`` (type ``outcome``) and the webhook forwards it. An event whose 4-hour
minute closed without being measurable, or that is two days old, is final as it stands.

Measuring runs in a worker thread (``asyncio.to_thread``): reading a day of bars from the store
must not hold the delivery loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Sequence

from virtuoso.alerting.outcome_store import OutcomeStore
from virtuoso.alerting.outcomes import HISTORY_MIN, HORIZONS_MIN, MINUTE_MS, Outcome, compute_outcome
from virtuoso.domain.alerts import MARKET_SYMBOL
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock

log = logging.getLogger(__name__)

GIVE_UP_AFTER_MS = 2 * 86_400_000
_STAGES = ("pending",) + tuple(name for name, _ in HORIZONS_MIN)


def next_horizon_ms(o: Outcome) -> int | None:
    """Event time at which the next unmeasured horizon's minute has closed (None once at 4 h)."""
    done = _STAGES.index(o.stage) if o.stage in _STAGES else 0
    if done >= len(HORIZONS_MIN):
        return None
    minutes = HORIZONS_MIN[done][1]
    t = o.ts_ms + minutes * MINUTE_MS
    return t - t % MINUTE_MS + MINUTE_MS


class OutcomeTracker:
    """``bars(symbol, start_ms, end_ms)`` reads 1-minute bars (memory, then the store)."""

    def __init__(self, store: OutcomeStore, bars: Callable[[str, int, int], Sequence[Bar]], clock: Clock,
                 hit_multiple: float, interval_s: float, publish: Callable[[list[Outcome]], None]) -> None:
        self.store = store
        self.bars = bars
        self.clock = clock
        self.hit_multiple = hit_multiple
        self.interval_s = interval_s
        self.publish = publish
        self.measured = 0
        self.errors = 0
        self.last_error: str | None = None
        self.open_events = 0

    def health(self) -> dict[str, object]:
        return {"open_events": self.open_events, "measured": self.measured, "errors": self.errors,
                "last_error": self.last_error}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                updates = await asyncio.to_thread(self.step)
            except Exception as exc:  # a failing round is retried next interval
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("outcome round failed")
                continue
            if updates:
                self.publish(updates)

    def _latest_bar_end(self, symbol: str, due_ms: int) -> int:
        """The end of the newest closed bar at or after the one ``due_ms`` needs (0: not there)."""
        near = self.bars(symbol, due_ms - MINUTE_MS, due_ms + HISTORY_MIN * MINUTE_MS)
        return max((b.start_ms + MINUTE_MS for b in near), default=0)

    def step(self) -> list[Outcome]:
        """One round (worker thread): measure what is due; returns the outcomes that reached a new stage."""
        now = self.clock.now_ms()
        events = self.store.open_events()
        self.open_events = len(events)
        updates: list[Outcome] = []
        ends: dict[tuple[str, int], int] = {}
        for ev in events:
            if ev.symbol == MARKET_SYMBOL:
                self.store.update(ev, now, final=True)  # no bars of "the market" to measure against
                continue
            due = next_horizon_ms(ev)
            if due is None:
                self.store.update(ev, now, final=True)
                continue
            key = (ev.symbol, due)
            if key not in ends:
                ends[key] = self._latest_bar_end(ev.symbol, due)
            data_end = ends[key]
            stale = now - ev.ts_ms > GIVE_UP_AFTER_MS
            if data_end < due and not stale:
                continue
            bars = self.bars(ev.symbol, ev.ts_ms - (HISTORY_MIN + 60) * MINUTE_MS,
                             ev.ts_ms + (HORIZONS_MIN[-1][1] + 2) * MINUTE_MS)
            measured = compute_outcome(ev, bars, self.hit_multiple)
            final = measured.complete or stale or data_end >= ev.ts_ms + (HORIZONS_MIN[-1][1] + 10) * MINUTE_MS
            if measured.stage != ev.stage or final:
                self.store.update(measured, now, final)
                self.measured += 1
                if measured.stage != ev.stage:
                    updates.append(measured)
        return updates
