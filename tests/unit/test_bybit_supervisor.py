"""The supervisor's backoff, gap and staleness logic against an in-memory link twin."""

from __future__ import annotations

import random
import threading
import time

from virtuoso.domain.clock import SystemClock
from virtuoso.ingest.bybit.supervisor import Backoff, Gap, Supervisor


class FakeLink:
    """A link twin: connects when ``up``; data 'arrives' when a test calls :meth:`data`."""

    def __init__(self) -> None:
        self.up = True
        self.connected = False
        self.connects = 0
        self.closes = 0
        self._last_mono: float | None = None
        self._last_ms: int | None = None
        self._first: int | None = None
        self.cause: str | None = None

    def connect(self) -> None:
        self.connects += 1
        if not self.up:
            raise ConnectionRefusedError("refused")
        self.connected = True
        self._first = None

    def close(self) -> None:
        self.closes += 1
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    def data(self) -> None:
        self._last_mono = time.monotonic()
        self._last_ms = time.time_ns() // 1_000_000
        if self._first is None:
            self._first = self._last_ms

    def drop(self, cause: str) -> None:
        self.cause = cause
        self.connected = False

    def last_data_mono(self) -> float | None:
        return self._last_mono

    def last_data_ms(self) -> int | None:
        return self._last_ms

    def first_data_ms_since_connect(self) -> int | None:
        return self._first

    def take_down_cause(self) -> str | None:
        c, self.cause = self.cause, None
        return c


def _run(sup: Supervisor) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    t = threading.Thread(target=sup.run, args=(stop,), daemon=True)
    t.start()
    return stop, t


def _until(pred, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def test_backoff_doubles_up_to_the_cap_and_jitters_within_half_to_full():
    b = Backoff(1.0, 8.0, random.Random(1))
    delays = [b.next_delay_s() for _ in range(8)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(cap * 0.5 <= d <= cap for d, cap in zip(delays, caps))
    assert len(set(delays)) == len(delays)  # jitter: no two the same
    b.reset()
    assert b.next_delay_s() <= 1.0


def test_a_dropped_link_is_reconnected_after_backoff_and_the_gap_is_recorded_and_reported():
    link, closed = FakeLink(), []
    sup = Supervisor(link, SystemClock(), stale_after_s=5.0, backoff=Backoff(0.05, 0.1), on_gap_closed=closed.append)
    stop, t = _run(sup)
    try:
        assert _until(lambda: link.connected)
        link.data()
        link.drop("ConnectionResetError: reset by peer")
        sup.wake()
        assert _until(lambda: link.connects == 2)
        assert sup.gaps()[-1].end_ms is None  # open while no data has arrived yet
        link.data()
        assert _until(lambda: len(closed) == 1)
        gap = closed[0]
        assert isinstance(gap, Gap) and gap.cause == "ConnectionResetError: reset by peer"
        assert gap.start_ms <= gap.end_ms and sup.reconnects == 1
    finally:
        stop.set()
        t.join(2)
    assert not t.is_alive() and link.closes >= 1


def test_a_stream_without_data_for_stale_after_s_is_closed_and_reconnected():
    link = FakeLink()
    sup = Supervisor(link, SystemClock(), stale_after_s=0.1, backoff=Backoff(0.01, 0.02))
    stop, t = _run(sup)
    try:
        assert _until(lambda: link.connected)
        link.data()
        assert _until(lambda: link.connects >= 2, 3)
        assert sup.gaps()[0].cause.startswith("stale: no message for")
    finally:
        stop.set()
        t.join(2)


def test_connection_failures_back_off_instead_of_looping_tightly():
    link = FakeLink()
    link.up = False
    sup = Supervisor(link, SystemClock(), stale_after_s=5.0, backoff=Backoff(0.05, 0.2))
    stop, t = _run(sup)
    time.sleep(1.0)
    stop.set()
    t.join(2)
    # delays 0.025-0.05, 0.05-0.1, 0.1-0.2, then 0.1-0.2 each: at most ~10 attempts in 1 s.
    assert 3 <= link.connects <= 12
    assert "ConnectionRefusedError" in sup.last_error


def test_backoff_resets_once_data_flows_again():
    link = FakeLink()
    backoff = Backoff(0.01, 0.05)
    sup = Supervisor(link, SystemClock(), stale_after_s=5.0, backoff=backoff)
    backoff.failures = 5
    stop, t = _run(sup)
    try:
        assert _until(lambda: link.connected)
        link.data()
        assert _until(lambda: backoff.failures == 0)
    finally:
        stop.set()
        t.join(2)


def test_stop_during_a_long_backoff_returns_promptly():
    link = FakeLink()
    link.up = False
    sup = Supervisor(link, SystemClock(), stale_after_s=5.0, backoff=Backoff(30.0, 60.0))
    stop, t = _run(sup)
    assert _until(lambda: link.connects == 1)
    started = time.monotonic()
    stop.set()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - started < 1.0
