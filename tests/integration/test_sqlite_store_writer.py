"""StoreWriter: batches into a real SqliteStore off the caller's thread; overflow and errors counted."""

from __future__ import annotations

import threading
import time
from typing import Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.sinks.storage_writer import StoreWriter
from virtuoso.storage.memory import MemoryStore
from virtuoso.storage.sqlite import SqliteStore
from tests.state_factories import T0_MS, alert, bar_1m


class GatedStore(MemoryStore):
    """A store whose writes wait for a gate (a slow disk) and can be told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.fail_next = 0
        self.calls = 0

    def write_bars(self, bars: Sequence[Bar]) -> None:
        self.calls += 1
        self.gate.wait(10)
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("disk full")
        super().write_bars(bars)

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        self.gate.wait(10)
        super().write_alerts(alerts)


def test_bars_and_alerts_reach_sqlite_from_the_writer_thread(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    w = StoreWriter(store).start()
    w.submit_bars([bar_1m(T0_MS + i * 60_000) for i in range(300)])
    w.submit_alerts([alert(T0_MS), alert(T0_MS + 1)])
    assert w.flush(10)
    assert len(store.read_bars("BTCUSDT", 0, 2**62)) == 300
    assert len(store.read_alerts(0, 2**62)) == 2
    h = w.health()
    assert (h["written"], h["dropped"], h["errors"], h["queue_depth"]) == (302, 0, 0, 0)
    w.stop()
    assert not w.health()["running"]
    store.close()


def test_a_slow_store_never_blocks_submit_and_overflow_is_counted(tmp_path, caplog):
    store = GatedStore()
    w = StoreWriter(store, queue_max=100).start()
    w.submit_bars([bar_1m(T0_MS)])  # the thread takes it and blocks on the gate
    deadline = time.monotonic() + 10
    while store.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    for i in range(1, 251):
        w.submit_bars([bar_1m(T0_MS + i * 60_000)])  # returns at once even though the disk waits
    assert w.health()["queue_depth"] == 100
    assert w.health()["dropped"] == 150
    assert sum("storage queue full" in r.getMessage() for r in caplog.records) == 1  # once per burst
    store.gate.set()
    assert w.flush(10)
    w.stop()
    assert len(store.read_bars("BTCUSDT", 0, 2**62)) == 101


def test_a_failing_write_is_counted_and_the_thread_keeps_going():
    store = GatedStore()
    store.gate.set()
    store.fail_next = 1
    w = StoreWriter(store).start()
    w.submit_bars([bar_1m(T0_MS)])
    assert w.flush(10)
    w.submit_bars([bar_1m(T0_MS + 60_000)])
    assert w.flush(10)
    w.stop()
    h = w.health()
    assert h["errors"] == 1 and "disk full" in h["last_error"]
    assert [b.start_ms for b in store.read_bars("BTCUSDT", 0, 2**62)] == [T0_MS + 60_000]


def test_stop_flushes_what_is_queued():
    store = GatedStore()
    w = StoreWriter(store).start()
    w.submit_bars([bar_1m(T0_MS + i * 60_000) for i in range(10)])
    store.gate.set()
    w.stop(flush=True)
    assert len(store.read_bars("BTCUSDT", 0, 2**62)) == 10
