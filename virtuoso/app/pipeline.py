"""The hot path: raw message -> parser -> market state -> once per event-second detection -> bus.

``on_message`` never raises: a parser exception, a bad event or a failing detector is counted
and logged (once per kind of failure burst) and the next message goes on. Detection runs when
event time crosses a whole second: first ``state.advance_to(sec_ms)`` closes every symbol's
bars before that second, then ``detection.on_second(state, sec_ms)``. A jump of more than
``max_catchup_s`` seconds runs detection only for the last ``max_catchup_s`` seconds. With a
``price_band`` (:class:`virtuoso.state.price_band.PriceBand`), trades and tickers far from their
symbol's market are dropped and counted before they reach the state.
"""

from __future__ import annotations

import logging
from operator import attrgetter
from typing import Any, Protocol, Sequence

from virtuoso.alerting.bus import AlertBus
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import Clock
from virtuoso.domain.events import Event

log = logging.getLogger(__name__)

MAX_CATCHUP_S = 60
_EVENT_TS = attrgetter("ts_event_ms")


class Parser(Protocol):
    def parse(self, msg: Any, ts_recv_ns: int) -> list[Event]: ...


class Detection(Protocol):
    def on_second(self, state: Any, ts_ms: int) -> list[Alert]: ...


class StateSink(Protocol):
    def apply(self, event: Event) -> None: ...
    def apply_many(self, events: Sequence[Event]) -> Sequence[Any]: ...
    def advance_to(self, ts_ms: int) -> None: ...


class Pipeline:
    """Feeds one message at a time through parse, state and detection; publishes alerts."""

    def __init__(self, parser: Parser, state: StateSink, detection: Detection, bus: AlertBus, clock: Clock,
                 max_catchup_s: int = MAX_CATCHUP_S, price_band: Any = None) -> None:
        self.parser = parser
        self.state = state
        self._parse = parser.parse  # bound once: looked up for every message otherwise
        self._apply_many = state.apply_many
        self.detection = detection
        self.bus = bus
        self.clock = clock
        self.max_catchup_s = max(1, int(max_catchup_s))
        self.price_band = price_band
        self._screen = price_band.screen if price_band is not None and price_band.enabled else None
        self.messages = 0
        self.events = 0
        self.alerts = 0
        self.errors = 0
        self.detection_errors = 0
        self.seconds = 0
        self.last_event_ms = 0
        self._lag_recv_ns = 0  # receive time of the newest event; the lag is worked out when read
        self._sec_ms = -1  # start of the event-second now open; -1 before the first event
        self._rate_mark: tuple[int, int] | None = None  # (clock ns, messages) at the previous stats()
        self._msgs_per_s = 0.0

    def on_message(self, msg: Any, ts_recv_ns: int) -> None:
        """Process one venue message (a decoded dict or a raw frame, see the parser); never raises."""
        self.messages += 1
        try:
            events = self._parse(msg, ts_recv_ns)
        except Exception:  # the parser promises not to raise; count it if it does
            self.errors += 1
            if self.errors == 1 or self.errors % 10_000 == 0:
                log.exception("parser raised (%d so far)", self.errors)
            return
        if not events:
            return
        sec_end = self._sec_ms + 1000
        try:
            # Most messages hold one event; max() over a map costs more than the event itself.
            newest = events[0].ts_event_ms if len(events) == 1 else max(map(_EVENT_TS, events))
            same_second = newest < sec_end
        except Exception:  # a malformed event: the careful path below counts it
            same_second = False
        if same_second:
            # Fast path (nearly every message): every event in the open second, one state call.
            if newest > self.last_event_ms:
                self.last_event_ms = newest
                self._lag_recv_ns = events[0].ts_recv_ns  # one message, one receive time
            self._apply_run(events)
            return
        # Events that cross a second boundary: apply them as runs that do not cross one, so
        # detection sees every second closed in order.
        newest = self.last_event_ms
        run: list[Event] = []
        for ev in events:
            try:
                ts = ev.ts_event_ms
                if ts >= sec_end:
                    if run:
                        self._apply_run(run)
                        run = []
                    self._tick(ts - ts % 1000)
                    sec_end = self._sec_ms + 1000
                if ts > newest:
                    newest = ts
                    self._lag_recv_ns = ev.ts_recv_ns
            except Exception:
                self._count_bad_event(ev)
                continue
            run.append(ev)
        if run:
            self._apply_run(run)
        self.last_event_ms = newest

    def _apply_run(self, events: Sequence[Event]) -> None:
        if self._screen is not None:
            events = self._screen(events)
            if not events:
                return
        failed = self._apply_many(events)
        self.events += len(events)
        if failed:
            self._count_failed(failed)

    def _count_failed(self, failed: Sequence[Any]) -> None:
        self.events -= len(failed)
        for ev in failed:
            self._count_bad_event(ev)

    def _count_bad_event(self, ev: Any) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 10_000 == 0:
            log.warning("bad event %r (%d errors so far)", ev, self.errors, exc_info=True)

    def _tick(self, new_sec_ms: int) -> None:
        """Close the seconds before ``new_sec_ms`` and run detection for each (capped)."""
        prev = self._sec_ms
        self._sec_ms = new_sec_ms
        if prev < 0:
            return
        first = max(prev + 1000, new_sec_ms - (self.max_catchup_s - 1) * 1000)
        for sec in range(first, new_sec_ms + 1000, 1000):
            self._run_second(sec)

    def _run_second(self, sec_ms: int) -> None:
        self.state.advance_to(sec_ms)
        self.seconds += 1
        try:
            alerts = self.detection.on_second(self.state, sec_ms)
        except Exception:
            self.detection_errors += 1
            if self.detection_errors == 1 or self.detection_errors % 1_000 == 0:
                log.exception("detection failed at %d (%d so far)", sec_ms, self.detection_errors)
            return
        if alerts:
            self._publish(alerts)

    def _publish(self, alerts: Sequence[Alert]) -> None:
        self.alerts += len(alerts)
        self.bus.publish_alerts(alerts)

    def finish(self) -> None:
        """End of stream (replay): close the open second so its bars and detection run."""
        if self._sec_ms >= 0:
            self._tick(self._sec_ms + 1000)

    @property
    def last_lag_ms(self) -> float:
        """Receive time minus exchange time of the newest event (ms; 0 before any event)."""
        return self._lag_recv_ns / 1e6 - self.last_event_ms if self.last_event_ms else 0.0

    @property
    def malformed(self) -> int:
        """Messages the parser counted as malformed or unknown, plus parser exceptions."""
        return _parser_count(self.parser) + self.errors

    def stats(self) -> dict[str, Any]:
        """Counters for the health page; msgs/s is measured between two calls on the clock."""
        now_ns = self.clock.now_ns()
        if self._rate_mark is not None:
            t0, n0 = self._rate_mark
            if now_ns > t0:
                self._msgs_per_s = (self.messages - n0) / ((now_ns - t0) / 1e9)
        self._rate_mark = (now_ns, self.messages)
        return {
            "messages": self.messages,
            "events": self.events,
            "malformed": self.malformed,
            "errors": self.errors,
            "detection_errors": self.detection_errors,
            "alerts": self.alerts,
            "seconds": self.seconds,
            "msgs_per_s": round(self._msgs_per_s, 1),
            "last_event_ms": self.last_event_ms,
            "lag_ms": round(self.last_lag_ms, 1),
            **(self.price_band.stats() if self.price_band is not None else {}),
        }


def _parser_count(parser: Any) -> int:
    """Read the parser's malformed/unknown counters whatever shape it exposes them in."""
    total = 0
    for name in ("malformed", "unknown"):
        v = getattr(parser, name, 0)
        if isinstance(v, int):
            total += v
    stats = getattr(parser, "stats", None)
    if total == 0 and callable(stats):
        try:
            s = stats()
            total = int(s.get("malformed", 0)) + int(s.get("unknown", 0))
        except Exception:
            pass
    return total
