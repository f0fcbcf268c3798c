"""The source -> pipeline hand-off: a bounded FIFO like ``queue.Queue``, without its shared lock."""

from __future__ import annotations

import queue
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from virtuoso.app.handoff import Handoff

_ops = st.lists(st.one_of(st.tuples(st.just("offer"), st.integers()), st.tuples(st.just("take"), st.integers(1, 5))),
                max_size=200)


@given(maxsize=st.integers(1, 8), ops=_ops)
def test_it_keeps_and_refuses_what_a_bounded_queue_would(maxsize, ops) -> None:
    """One thread: every offer is accepted or refused, and every take returns, as ``queue.Queue``."""
    h: Handoff[int] = Handoff(maxsize)
    q: queue.Queue[int] = queue.Queue(maxsize)
    for op, arg in ops:
        if op == "offer":
            try:
                q.put_nowait(arg)
                expected = True
            except queue.Full:
                expected = False
            assert h.offer(arg) is expected
        else:
            want = []
            while len(want) < arg:
                try:
                    want.append(q.get_nowait())
                except queue.Empty:
                    break
            assert h.take(arg, 0.0) == want
        assert h.qsize() == q.qsize()


def test_many_producers_lose_nothing_and_each_ones_order_is_kept() -> None:
    h: Handoff[tuple[int, int]] = Handoff(1_000_000)
    n, producers = 20_000, 8

    def produce(p: int) -> None:
        for i in range(n):
            assert h.offer((p, i))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    while len(got) < n * producers and time.monotonic() < deadline:
        got += h.take(1000, 0.05)
    for t in threads:
        t.join()
    assert len(got) == n * producers
    for p in range(producers):
        assert [i for q, i in got if q == p] == list(range(n))


def test_a_waiting_consumer_is_woken_by_an_offer_long_before_its_timeout() -> None:
    h: Handoff[str] = Handoff(10)
    taken: list[list[str]] = []
    t = threading.Thread(target=lambda: taken.append(h.take(10, 30.0)))
    t.start()
    time.sleep(0.2)  # the consumer is asleep in take()
    started = time.monotonic()
    h.offer("frame")
    t.join(30)
    assert taken == [["frame"]]
    assert time.monotonic() - started < 10  # woken, not timed out (30 s)


def test_put_waits_for_room_and_gives_up_when_told_to_stop() -> None:
    h: Handoff[int] = Handoff(2)
    stop = threading.Event()
    assert h.offer(1) and h.offer(2) and not h.offer(3)
    done: list[bool] = []
    t = threading.Thread(target=lambda: done.append(h.put(3, stop)))
    t.start()
    time.sleep(0.1)
    assert not done  # still waiting: full
    assert h.take(1, 0.0) == [1]
    t.join(30)
    assert done == [True] and h.take(5, 0.0) == [2, 3]

    assert h.offer(4) and h.offer(5)
    t = threading.Thread(target=lambda: done.append(h.put(6, stop)))
    t.start()
    stop.set()
    t.join(30)
    assert done == [True, False] and h.take(5, 0.0) == [4, 5]
