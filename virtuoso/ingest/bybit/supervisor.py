"""Keeps one live Bybit connection alive: watches it, reconnects with backoff, records gaps.

pybit gives up silently after its own retries, so nothing else would notice a dead stream.
The supervisor runs in the source's thread and loops: when the link is down it waits
``backoff`` (exponential, capped, with jitter, so never a tight loop; Bybit limits new
connections per IP: https://bybit-exchange.github.io/docs/v5/rate-limit) and reconnects; when no
data message has arrived for ``stale_after_s`` it closes the link and does the same. Each
interruption becomes a :class:`Gap` (start = last data before it, end = first data after it,
cause), and ``on_gap_closed`` lets the source backfill it.

Durations use ``time.monotonic``; gap timestamps come from the injected clock.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol

from virtuoso.domain.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch without live data: ``[start_ms, end_ms]`` and why (end None while open)."""

    start_ms: int
    end_ms: int | None
    cause: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backoff:
    """Exponential backoff with "equal jitter": delay_n = min(max, initial * 2**n) * U(0.5, 1)."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.max_s = max(max_s, initial_s)
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay_s(self) -> float:
        cap = min(self.max_s, self.initial_s * (2 ** min(self.failures, 30)))
        self.failures += 1
        return cap * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class Link(Protocol):
    """The supervised connection (the real one wraps pybit; tests use a twin)."""

    def connect(self) -> None: ...  # raises when it cannot connect

    def close(self) -> None: ...

    def is_connected(self) -> bool: ...

    def last_data_mono(self) -> float | None: ...  # monotonic time of the newest data message

    def last_data_ms(self) -> int | None: ...  # clock time of the newest data message

    def first_data_ms_since_connect(self) -> int | None: ...

    def take_down_cause(self) -> str | None: ...  # what the socket last reported, then forget it


class Supervisor:
    """Reconnect loop around one :class:`Link`; counters feed the source's health."""

    def __init__(
        self,
        link: Link,
        clock: Clock,
        *,
        stale_after_s: float,
        backoff: Backoff,
        on_gap_closed: Callable[[Gap], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._backoff = backoff
        self._on_gap_closed = on_gap_closed
        self._mono = monotonic
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.attempts = 0
        self.reconnects = 0
        self.last_error = ""
        self.next_delay_s = 0.0
        self._ever_connected = False
        self._connected_mono = 0.0
        self._gap_start: tuple[int, str] | None = None
        self._gaps: deque[Gap] = deque(maxlen=100)
        self.poll_s = max(0.02, min(0.25, stale_after_s / 4))

    def wake(self) -> None:
        """Called from the socket thread when it goes down, so the loop reacts at once."""
        self._wake.set()

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        """Supervise until ``stop`` is set; then close the link."""
        try:
            while not stop.is_set():
                if self._link.is_connected():
                    self._watch()
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
                elif not self._reconnect(stop):
                    break
        finally:
            self._link.close()

    def _reconnect(self, stop: threading.Event) -> bool:
        if self._ever_connected:
            self._open_gap("connection lost")
        if self.attempts:
            self.next_delay_s = self._backoff.next_delay_s()
            log.info("bybit: reconnecting in %.2f s (attempt %d)", self.next_delay_s, self.attempts + 1)
            if stop.wait(self.next_delay_s):
                return False
        self.attempts += 1
        try:
            self._link.close()  # make sure the previous socket and its threads are gone
            self._link.connect()
        except Exception as exc:  # refused, timed out, handshake failed: back off and try again
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("bybit: connect failed: %s", self.last_error)
            return True
        self._connected_mono = self._mono()
        if self._ever_connected:
            self.reconnects += 1
            log.info("bybit: reconnected and resubscribed (reconnect %d)", self.reconnects)
        self._ever_connected = True
        return True

    def _watch(self) -> None:
        now = self._mono()
        last = self._link.last_data_mono()
        ref = max(last or 0.0, self._connected_mono)
        if now - ref > self._stale_after_s:
            self._open_gap(f"stale: no message for {now - ref:.1f} s")
            log.warning("bybit: stream stale for %.1f s; reconnecting", now - ref)
            self._link.close()
            return
        first = self._link.first_data_ms_since_connect()
        if first is None:
            return
        self._backoff.reset()
        if self._gap_start is not None:
            start, cause = self._gap_start
            gap = Gap(start, max(first, start), cause)
            with self._lock:
                self._gaps.append(gap)
                self._gap_start = None
            log.info("bybit: gap closed after %.1f s (%s)", (gap.end_ms - start) / 1000, cause)  # type: ignore[operator]
            if self._on_gap_closed is not None:
                try:
                    self._on_gap_closed(gap)
                except Exception:
                    log.exception("gap handler failed")

    def _open_gap(self, hint: str) -> None:
        if self._gap_start is not None or not self._ever_connected:
            self._link.take_down_cause()
            return
        cause = hint if hint.startswith("stale") else (self._link.take_down_cause() or hint)
        start = self._link.last_data_ms() or self._clock.now_ms()
        with self._lock:
            self._gap_start = (start, cause)
        log.warning("bybit: gap opened: %s", cause)

    # ------------------------------------------------------------------ health

    def gaps(self) -> list[Gap]:
        """Closed gaps, then the open one (``end_ms`` None) if the stream is down now."""
        with self._lock:
            out = list(self._gaps)
            if self._gap_start is not None:
                out.append(Gap(self._gap_start[0], None, self._gap_start[1]))
        return out
