"""SqliteStore against a real SQLite file: round trips, upserts, per-thread connections, kill -9."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from virtuoso.domain.alerts import Severity
from virtuoso.storage import embedded
from virtuoso.storage.sqlite import SqliteStore
from tests.state_factories import T0_MS, alert, bar_1m

REPO = Path(__file__).resolve().parents[2]


def test_bars_round_trip_with_nan_preserved_and_range_half_open(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    bars = [bar_1m(T0_MS + i * 60_000, close=100.0 + i) for i in range(5)]
    nan_bar = bar_1m(T0_MS + 5 * 60_000, open_interest=float("nan"), simulated=True)
    store.write_bars(bars + [nan_bar])
    got = store.read_bars("BTCUSDT", T0_MS + 60_000, T0_MS + 4 * 60_000)
    assert got == bars[1:4]
    [back] = store.read_bars("BTCUSDT", nan_bar.start_ms, nan_bar.end_ms)
    assert math.isnan(back.open_interest) and back.simulated is True
    assert store.read_bars("ETHUSDT", 0, 2**62) == []
    store.close()


def test_bar_upsert_replaces_the_same_symbol_and_minute(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    store.write_bars([bar_1m(T0_MS, close=1.0), bar_1m(T0_MS, close=1.0, symbol="ETHUSDT")])
    store.write_bars([bar_1m(T0_MS, close=2.0, volume=7.0)])
    [b] = store.read_bars("BTCUSDT", T0_MS, T0_MS + 60_000)
    assert (b.close, b.volume) == (2.0, 7.0)
    assert store.health()["rows"] == {"bars_1m": 2, "alerts": 0}
    store.close()


def test_alerts_round_trip_upsert_by_id_and_filter_by_symbol(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    a1 = alert(T0_MS, ratio=6.5, window_s=60, nested={"k": [1, 2]})
    a2 = alert(T0_MS + 1_000, symbol="ETHUSDT")
    store.write_alerts([a1, a2])
    higher = alert(T0_MS, severity=Severity.HIGH, score=80.0, ratio=9.0)
    assert higher.id == a1.id
    store.write_alerts([higher])
    got = store.read_alerts(T0_MS, T0_MS + 10_000)
    assert [a.id for a in got] == [a1.id, a2.id]
    assert got[0].severity is Severity.HIGH and dict(got[0].evidence) == {"ratio": 9.0}
    assert store.read_alerts(0, 2**62, ["ETHUSDT"]) == [a2]
    assert store.read_alerts(0, 2**62, []) == []
    assert store.read_alerts(T0_MS + 1, T0_MS + 1_000) == []
    store.close()


def test_store_is_in_wal_mode_and_reopens_with_data(tmp_path):
    path = tmp_path / "sub" / "v.db"
    store = SqliteStore(path)
    store.write_bars([bar_1m()])
    conn = store.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    store.close()
    again = SqliteStore(path)
    assert len(again.read_bars("BTCUSDT", 0, 2**62)) == 1
    h = again.health()
    assert h["path"] == str(path) and h["size_bytes"] > 0
    again.close()


def test_writes_from_many_threads_are_visible_to_readers_without_a_connection_per_thread(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    errors: list[BaseException] = []

    def writer(sym: str) -> None:
        try:
            for i in range(50):
                store.write_bars([bar_1m(T0_MS + i * 60_000, symbol=sym)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in ("AUSDT", "BUSDT", "CUSDT")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(store.read_bars(s, 0, 2**62)) == 50 for s in ("AUSDT", "BUSDT", "CUSDT"))
    assert embedded.open_connections(tmp_path / "v.db") <= 1 + embedded.READERS_IDLE_MAX  # writer + pooled readers
    store.close()


def test_other_modules_add_their_own_tables_with_migrate_and_connect(tmp_path):
    store = SqliteStore(tmp_path / "v.db")
    ddl = "CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL)"
    store.migrate(ddl)
    store.migrate(ddl)  # idempotent
    conn = store.connect()
    with conn:
        conn.execute("INSERT INTO outbox VALUES ('a', '{}')")
    conn.close()
    again = SqliteStore(tmp_path / "v.db")
    assert again.connect().execute("SELECT id FROM outbox").fetchall() == [("a",)]
    store.close()
    again.close()


WRITER = textwrap.dedent(
    """
    import sys
    from virtuoso.domain.bars import Bar
    from virtuoso.storage.sqlite import SqliteStore
    store = SqliteStore(sys.argv[1])
    i = 0
    while True:
        batch = [Bar("BTCUSDT", (i + k) * 60_000, 60, 1.0, 2.0, 0.5, 1.5, volume=float(i + k)) for k in range(20)]
        store.write_bars(batch)
        i += 20
        print(i, flush=True)  # every bar below i is committed
    """
)


def test_kill_9_mid_writes_loses_nothing_committed_and_the_database_is_intact(tmp_path):
    db = tmp_path / "kill.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    committed = 0
    deadline = time.monotonic() + 60
    while committed < 2_000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()  # lines printed between our last read and the kill
    proc.stdout.close()
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    for line in rest.split():
        committed = max(committed, int(line))
    assert committed >= 2_000, "writer made too little progress before the kill"

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    store = SqliteStore(db)
    bars = store.read_bars("BTCUSDT", 0, 2**62)
    starts = {b.start_ms for b in bars}
    assert all(i * 60_000 in starts for i in range(committed))
    assert bars[committed - 1].volume == float(committed - 1)
    store.close()


def test_block_prints_and_event_fields_round_trip_and_an_older_file_gains_the_columns(tmp_path):
    import dataclasses

    from virtuoso.domain.alerts import Change

    path = tmp_path / "old.db"
    # A file as the first release wrote it: no block/print columns, no event columns.
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE bars_1m (symbol TEXT NOT NULL, start_ms INTEGER NOT NULL, interval_s INTEGER NOT NULL,"
        " open REAL, high REAL, low REAL, close REAL, volume REAL, turnover REAL, trade_count INTEGER,"
        " buy_volume REAL, sell_volume REAL, open_interest REAL, funding_rate REAL, long_liq_volume REAL,"
        " short_liq_volume REAL, simulated INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (symbol, start_ms));"
        "CREATE TABLE alerts (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,"
        " score REAL NOT NULL, ts_event_ms INTEGER NOT NULL, evidence TEXT NOT NULL,"
        " message TEXT NOT NULL DEFAULT '', simulated INTEGER NOT NULL DEFAULT 0);"
        f"INSERT INTO bars_1m (symbol, start_ms, interval_s, close) VALUES ('BTCUSDT', {T0_MS}, 60, 1.0);"
    )
    old.commit()
    old.close()
    store = SqliteStore(path)
    try:
        (kept,) = store.read_bars("BTCUSDT", 0, 2**53)
        assert kept.close == 1.0 and kept.block_volume == 0.0 and kept.max_print_volume == 0.0
        b = bar_1m(T0_MS, symbol="ETHUSDT")._replace(block_volume=2.5, max_print_volume=7.0)
        store.write_bars([b])
        assert store.read_bars("ETHUSDT", 0, 2**53) == [b]
        a = dataclasses.replace(alert(T0_MS, "ETHUSDT"), ts_start_ms=T0_MS - 60_000, change=Change.ESCALATED, direction=-1)
        store.write_alerts([a])
        (back,) = store.read_alerts(0, 2**53, ["ETHUSDT"])
        assert (back.ts_start_ms, back.change, back.direction) == (T0_MS - 60_000, Change.ESCALATED, -1)
    finally:
        store.close()
