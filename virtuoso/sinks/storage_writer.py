"""Storage writer: a thread that drains a bounded queue of bars and alerts into a Store in batches.

The pipeline only appends to the queue, so it never waits on disk. When the queue is full the
new items are dropped and counted (logged once per burst); a failing write is logged and counted
and the thread keeps running.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.storage.base import Store

log = logging.getLogger(__name__)

BATCH_MAX = 5_000


class StoreWriter:
    """Batches bars and alerts to ``store`` from its own thread."""

    def __init__(self, store: Store, queue_max: int = 10_000, flush_interval_s: float = 0.5) -> None:
        self.store = store
        self.queue_max = int(queue_max)
        self.flush_interval_s = flush_interval_s
        self._cond = threading.Condition()
        self._bars: list[Bar] = []
        self._alerts: list[Alert] = []
        self._stop = False
        self._thread: threading.Thread | None = None
        self._in_overflow = False
        self._busy = False
        self.written_bars = 0
        self.written_alerts = 0
        self.dropped = 0
        self.errors = 0
        self.last_error = ""

    # ------------------------------------------------------------------ producers (never block)

    def submit_bars(self, bars: Sequence[Bar]) -> None:
        self._submit(self._bars, bars)

    def submit_alerts(self, alerts: Sequence[Alert]) -> None:
        self._submit(self._alerts, alerts)

    def _submit(self, target: list[Any], items: Sequence[Any]) -> None:
        if not items:
            return
        with self._cond:
            room = self.queue_max - len(self._bars) - len(self._alerts)
            if room >= len(items):
                target.extend(items)
                self._in_overflow = False
            else:
                if room > 0:
                    target.extend(items[:room])
                lost = len(items) - max(room, 0)
                self.dropped += lost
                if not self._in_overflow:
                    self._in_overflow = True
                    log.warning("storage queue full (%d): dropping writes (%d dropped so far)", self.queue_max, self.dropped)
            self._cond.notify()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "StoreWriter":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="virtuoso-store-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, flush: bool = True, timeout_s: float = 10.0) -> None:
        """Stop the thread; with ``flush`` write what is queued first, otherwise drop it (counted)."""
        with self._cond:
            if not flush:
                self.dropped += len(self._bars) + len(self._alerts)
                self._bars, self._alerts = [], []
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        elif flush:
            self._drain_once()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the queue is empty and nothing is being written (tests, shutdown)."""
        with self._cond:
            self._cond.notify()
            return self._cond.wait_for(lambda: not (self._bars or self._alerts or self._busy), timeout_s)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stop or self._bars or self._alerts, self.flush_interval_s)
                if self._stop and not (self._bars or self._alerts):
                    self._cond.notify_all()
                    return
            self._drain_once()

    def _drain_once(self) -> None:
        with self._cond:
            bars, self._bars = self._bars, []
            alerts, self._alerts = self._alerts, []
            self._busy = True
        try:
            for i in range(0, len(bars), BATCH_MAX):
                self._write("bars", bars[i:i + BATCH_MAX])
            for i in range(0, len(alerts), BATCH_MAX):
                self._write("alerts", alerts[i:i + BATCH_MAX])
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _write(self, what: str, batch: list[Any]) -> None:
        try:
            if what == "bars":
                self.store.write_bars(batch)
                self.written_bars += len(batch)
            else:
                self.store.write_alerts(batch)
                self.written_alerts += len(batch)
        except Exception as exc:  # keep running: the next batch may succeed
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.exception("storage write of %d %s failed", len(batch), what)

    def health(self) -> dict[str, Any]:
        with self._cond:
            depth = len(self._bars) + len(self._alerts)
        return {
            "queue_depth": depth,
            "queue_max": self.queue_max,
            "written_bars": self.written_bars,
            "written_alerts": self.written_alerts,
            "written": self.written_bars + self.written_alerts,
            "dropped": self.dropped,
            "errors": self.errors,
            "last_error": self.last_error,
            "running": self._thread is not None and self._thread.is_alive(),
        }
