"""The bounded hand-off between the source's threads and the pipeline thread.

Why not ``queue.Queue``: every ``put`` and ``get`` takes one shared ``threading.Lock`` (the
queue's mutex, under its conditions). With Bybit's connections each on its own socket thread and
the pipeline thread taking one message at a time, that lock became a convoy: a thread holding it
was switched out of the GIL, and the others blocked on it and then queued again for the GIL to
go on. Measured at 500 symbols (py-spy on ``virtuoso run``), the pipeline thread spent 67 % of its
time waiting for that lock and each socket thread 65 %, and the engine carried only about
1,000-1,600 messages/s, well under the ~6,000 frames/s the server sent.

Here the producers append to a ``collections.deque`` (appends and pops are atomic under the GIL,
no Python lock taken), and the consumer takes whatever is there in one batch. An ``Event`` wakes
the consumer only when it said it is about to sleep; under load it never sleeps, so producers
never touch a lock. Order is the order of the appends, as with a queue.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

_FULL_POLL_S = 0.001  # a producer that can wait (replay, simulator) rechecks a full hand-off this often


class Handoff(Generic[T]):
    """Many producers, one consumer, FIFO, at most ``maxsize`` items (plus at most one per producer
    racing on the size check). ``offer`` never blocks; ``put`` waits for room; ``take`` returns a batch."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = int(maxsize)
        self._items: deque[T] = deque()
        self._wake = threading.Event()
        self._consumer_waiting = False

    def qsize(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> bool:
        """Append ``item`` unless full (then False, nothing changed); never blocks."""
        items = self._items
        if len(items) >= self.maxsize:
            return False
        items.append(item)
        if self._consumer_waiting:
            self._wake.set()
        return True

    def put(self, item: T, stop: threading.Event) -> bool:
        """Append ``item``, waiting while full; False (not appended) once ``stop`` is set."""
        while not self.offer(item):
            if stop.wait(_FULL_POLL_S):
                return False
        return True

    def take(self, max_items: int, timeout_s: float) -> list[T]:
        """Up to ``max_items`` of the oldest items, waiting at most ``timeout_s`` for the first one
        (an empty list when none came). One consumer only."""
        items = self._items
        if not items:
            self._consumer_waiting = True
            # Checked again after the flag is up: an item appended before it was seen by this
            # check, and one appended after it sets the event, so no wake-up is lost.
            if not items:
                self._wake.wait(timeout_s)
            self._consumer_waiting = False
            self._wake.clear()
        n = min(len(items), max_items)
        pop = items.popleft
        return [pop() for _ in range(n)]
