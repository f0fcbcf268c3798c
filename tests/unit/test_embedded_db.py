"""The embedded database's connection policy: reads from threads that come and go leave nothing open.

Streamlit runs every rerun on a new thread; a connection kept per thread and never closed leaked
one file descriptor per second with one tab open. These tests read the way the dashboard does
(one read per short-lived thread) and count the process's open descriptors on the database file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.ui_factories import make_bars
from virtuoso.alerting.marks import AlertMarks
from virtuoso.alerting.outbox import Outbox
from virtuoso.domain.clock import ManualClock
from virtuoso.storage import embedded
from virtuoso.storage.spill import SpillBuffer
from virtuoso.storage.sqlite import SqliteStore

END_MS = 1_700_006_400_000


def db_fds(db: Path) -> int:
    """Open file descriptors of this process on the database file and its WAL and shared-memory files."""
    prefix = str(db.resolve())
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(prefix):
            n += 1
    return n


def read_in_threads(n: int, read) -> list[object]:
    results: list[object] = []
    for _ in range(n):  # one thread per read, each ending before the next starts, as Streamlit reruns do
        t = threading.Thread(target=lambda: results.append(read()))
        t.start()
        t.join()
    return results


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count descriptors")
def test_100_reads_from_100_short_lived_threads_leave_no_connection_open(tmp_path):
    db = tmp_path / "virtuoso.db"
    store = SqliteStore(db)
    store.write_bars(make_bars("BTCUSDT", END_MS, 120))
    marks = AlertMarks(db)
    marks.acknowledge("a1", END_MS)
    # Warm up: the pool's first reader is opened once and reused; a closed connection's database
    # descriptor is parked by SQLite while other connections hold locks on the file, and reused by
    # the next open, so one short-lived read comes first too.
    store.read_bars("BTCUSDT", 0, END_MS)
    marks.acknowledged()
    fds_before, conns_before = db_fds(db), embedded.open_connections(db)

    bars = read_in_threads(100, lambda: len(store.read_bars("BTCUSDT", 0, END_MS)))
    alerts = read_in_threads(100, lambda: store.read_alerts(0, END_MS))
    acked = read_in_threads(100, marks.acknowledged)
    read_in_threads(100, store.health)

    assert bars == [120] * 100 and alerts == [[]] * 100 and acked == [{"a1"}] * 100
    assert embedded.open_connections(db) == conns_before  # the writer and one pooled reader
    assert db_fds(db) == fds_before
    store.close()
    assert embedded.open_connections(db) == 0
    assert db_fds(db) == 0


def test_concurrent_readers_are_bounded_by_reads_in_flight_not_by_threads_seen(tmp_path):
    db = tmp_path / "virtuoso.db"
    store = SqliteStore(db)
    store.write_bars(make_bars("ETHUSDT", END_MS, 30))
    gate = threading.Barrier(8)

    def read() -> int:
        gate.wait()
        return len(store.read_bars("ETHUSDT", 0, END_MS))

    for _ in range(5):
        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # 40 threads, 8 at a time: what stays open is the writer plus the pool's idle readers.
    assert embedded.open_connections(db) <= 1 + embedded.READERS_IDLE_MAX
    store.close()
    assert embedded.open_connections(db) == 0


def test_every_table_owner_opens_connections_with_the_same_policy(tmp_path):
    db = tmp_path / "virtuoso.db"
    store = SqliteStore(db)
    outbox = Outbox(db, ManualClock(END_MS))
    spill = SpillBuffer(db)
    marks_conn = AlertMarks(db)._connect()
    try:
        for conn, sync in ((store.connect(), 2), (outbox._conn, 1), (spill._conn, 2), (marks_conn, 1)):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == embedded.BUSY_TIMEOUT_MS
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == sync  # 2 = FULL, 1 = NORMAL
            if conn is not outbox._conn and conn is not spill._conn:
                conn.close()
    finally:
        outbox.close()
        spill.close()
        store.close()
    assert embedded.open_connections(db) == 0


def test_a_closed_store_refuses_reads_and_writes_instead_of_reopening(tmp_path):
    store = SqliteStore(tmp_path / "virtuoso.db")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.read_bars("BTCUSDT", 0, END_MS)
    with pytest.raises(sqlite3.ProgrammingError):
        store.write_bars(make_bars("BTCUSDT", END_MS, 2))


def test_no_module_but_the_embedded_one_calls_sqlite3_connect():
    root = Path(__file__).resolve().parents[2] / "virtuoso"
    callers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "sqlite3.connect(" in p.read_text())
    assert callers == ["storage/embedded.py"]
