"""Durable overflow for the InfluxDB store: line-protocol points in the embedded SQLite database.

When InfluxDB is down or too slow, pending points move here (table ``influx_spill`` in
``data_dir/virtuoso.db``) keyed by the sequence number they got when they were enqueued, and the
store's writer sends them back in that order when the server returns. Rows are deleted only after
InfluxDB acknowledged them, so a crash in between re-sends them; that is safe because a point with
the same series and time overwrites itself (no duplicates). Points InfluxDB refused (HTTP 4xx) go
to ``influx_quarantine`` with the server's error, for a human to look at.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple, Sequence

from virtuoso.storage import embedded

BUSY_TIMEOUT_MS = embedded.BUSY_TIMEOUT_MS

SCHEMA = """
CREATE TABLE IF NOT EXISTS influx_spill (
    seq INTEGER PRIMARY KEY, measurement TEXT NOT NULL, symbol TEXT NOT NULL,
    time_ms INTEGER NOT NULL, line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS influx_spill_series ON influx_spill (measurement, symbol, time_ms);
CREATE TABLE IF NOT EXISTS influx_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, status INTEGER NOT NULL,
    error TEXT NOT NULL, lines TEXT NOT NULL
);
"""


class Pending(NamedTuple):
    """One point on its way to InfluxDB: its order, what it is (for reads) and its line."""

    seq: int
    measurement: str
    symbol: str
    time_ms: int
    line: str


class SpillBuffer:
    """An ordered, durable queue of :class:`Pending` points in SQLite (WAL, synchronous=FULL).

    One connection guarded by a lock: the store's writer thread, the thread calling
    ``write_bars`` and readers share it, and every call is short.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = embedded.connect(self.path, "FULL")
        with self._lock, self._conn:
            self._conn.executescript(SCHEMA)

    def put(self, items: Sequence[Pending]) -> None:
        """Store points (one transaction); a seq already present is replaced, never doubled."""
        if not items:
            return
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO influx_spill VALUES (?, ?, ?, ?, ?)", items)

    def head(self, limit: int) -> list[Pending]:
        """The oldest ``limit`` points, in order."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM influx_spill ORDER BY seq LIMIT ?", (int(limit),)).fetchall()
        return [Pending(*r) for r in rows]

    def delete_through(self, first_seq: int, last_seq: int) -> None:
        """Forget points with seq in [first_seq, last_seq] once InfluxDB has them."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM influx_spill WHERE seq >= ? AND seq <= ?", (first_seq, last_seq))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM influx_spill").fetchone()[0])

    def max_seq(self) -> int:
        """Highest seq stored (0 when empty), so a restarted store continues the order."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM influx_spill").fetchone()
        return int(row[0] or 0)

    def select(self, measurement: str, start_ms: int, end_ms: int, symbols: Sequence[str] | None = None) -> list[Pending]:
        """Spilled points of one measurement in a time range (optionally some symbols), in seq order."""
        sql = "SELECT * FROM influx_spill WHERE measurement = ? AND time_ms >= ? AND time_ms < ?"
        params: list[object] = [measurement, int(start_ms), int(end_ms)]
        if symbols is not None:
            sql += f" AND symbol IN ({', '.join('?' * len(symbols))})"
            params.extend(symbols)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", params).fetchall()
        return [Pending(*r) for r in rows]

    def quarantine(self, ts_ms: int, status: int, error: str, lines: Sequence[str]) -> None:
        """Keep points InfluxDB refused, with its error, instead of retrying them forever."""
        with self._lock, self._conn:
            self._conn.execute("INSERT INTO influx_quarantine (ts_ms, status, error, lines) VALUES (?, ?, ?, ?)",
                               (int(ts_ms), int(status), error[:4000], "\n".join(lines)))

    def quarantined(self) -> list[tuple[int, int, str, str]]:
        """(ts_ms, status, error, lines) of every quarantined batch, oldest first."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(
                "SELECT ts_ms, status, error, lines FROM influx_quarantine ORDER BY id").fetchall()]  # type: ignore[misc]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
