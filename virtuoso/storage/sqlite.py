"""The embedded store: SQLite in WAL mode under the data directory (the default history backend).

Implements :class:`virtuoso.storage.base.Store` for 1-minute bars and alerts, and is also where
the operational tables (outbox, mutes, paper trades) live. Other modules get a connection with
the same settings through :meth:`SqliteStore.connect` and create their own tables with
:meth:`SqliteStore.migrate` (``CREATE TABLE IF NOT EXISTS ...``).

Durability: every write is one transaction; ``synchronous=FULL`` in WAL mode means a committed
transaction survives both ``kill -9`` of the process and a power loss. Connections follow the
embedded database's policy (:mod:`virtuoso.storage.embedded`): writes share one connection behind
a lock; reads borrow one from a small pool, so readers never block the writer and a dashboard
that reads from a new thread on every rerun never leaves a connection behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity
from virtuoso.storage import embedded
from virtuoso.domain.bars import Bar

NAN = float("nan")
BUSY_TIMEOUT_MS = embedded.BUSY_TIMEOUT_MS
_COUNT_CACHE_S = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS bars_1m (
    symbol TEXT NOT NULL, start_ms INTEGER NOT NULL, interval_s INTEGER NOT NULL,
    open REAL, high REAL, low REAL, close REAL, volume REAL, turnover REAL, trade_count INTEGER,
    buy_volume REAL, sell_volume REAL, open_interest REAL, funding_rate REAL,
    long_liq_volume REAL, short_liq_volume REAL, simulated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (symbol, start_ms)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, symbol TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    score REAL NOT NULL, ts_event_ms INTEGER NOT NULL, evidence TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '', simulated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts_event_ms);
CREATE INDEX IF NOT EXISTS alerts_symbol_ts ON alerts (symbol, ts_event_ms);
"""

# Columns added after the first release, defined here only: every file (new, or written by an older
# version) gains them on open with ``ALTER TABLE ... ADD COLUMN``, so no stored row is lost.
_ADDED_COLUMNS = {
    "bars_1m": (("block_volume", "REAL NOT NULL DEFAULT 0"), ("max_print_volume", "REAL NOT NULL DEFAULT 0")),
    "alerts": (("ts_start_ms", "INTEGER NOT NULL DEFAULT 0"), ("change", "TEXT NOT NULL DEFAULT 'new'"),
               ("direction", "INTEGER NOT NULL DEFAULT 0")),
}

_BAR_COLS = ("symbol", "start_ms", "interval_s", "open", "high", "low", "close", "volume", "turnover",
             "trade_count", "buy_volume", "sell_volume", "open_interest", "funding_rate",
             "long_liq_volume", "short_liq_volume", "simulated", "block_volume", "max_print_volume")
_UPSERT_BAR = (
    f"INSERT INTO bars_1m ({', '.join(_BAR_COLS)}) VALUES ({', '.join('?' * len(_BAR_COLS))}) "
    "ON CONFLICT (symbol, start_ms) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _BAR_COLS[2:])
)
_ALERT_COLS = ("id", "symbol", "kind", "severity", "score", "ts_event_ms", "evidence", "message", "simulated",
               "ts_start_ms", "change", "direction")
_UPSERT_ALERT = (
    f"INSERT INTO alerts ({', '.join(_ALERT_COLS)}) VALUES ({', '.join('?' * len(_ALERT_COLS))}) "
    "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _ALERT_COLS[1:])
)


def _f(v: Any) -> float:
    """SQLite stores NaN as NULL; read it back as NaN."""
    return NAN if v is None else float(v)


def _bar_row(b: Bar) -> tuple[Any, ...]:
    return (b.symbol, b.start_ms, b.interval_s, b.open, b.high, b.low, b.close, b.volume, b.turnover,
            b.trade_count, b.buy_volume, b.sell_volume, b.open_interest, b.funding_rate,
            b.long_liq_volume, b.short_liq_volume, int(b.simulated), b.block_volume, b.max_print_volume)


def _row_bar(r: Sequence[Any]) -> Bar:
    return Bar(r[0], int(r[1]), int(r[2]), _f(r[3]), _f(r[4]), _f(r[5]), _f(r[6]), _f(r[7]), _f(r[8]),
               int(r[9] or 0), _f(r[10]), _f(r[11]), _f(r[12]), _f(r[13]), _f(r[14]), _f(r[15]), bool(r[16]),
               float(r[17] or 0.0), float(r[18] or 0.0))


def _alert_row(a: Alert) -> tuple[Any, ...]:
    evidence = json.dumps(dict(a.evidence), default=str, separators=(",", ":"))
    return (a.id, a.symbol, a.kind.value, a.severity.value, float(a.score), int(a.ts_event_ms), evidence,
            a.message, int(a.simulated), int(a.ts_start_ms), a.change.value, int(a.direction))


def _row_alert(r: Sequence[Any]) -> Alert:
    return Alert(id=r[0], symbol=r[1], kind=AlertKind(r[2]), severity=Severity(r[3]), score=float(r[4]),
                 ts_event_ms=int(r[5]), evidence=json.loads(r[6]), message=r[7] or "", simulated=bool(r[8]),
                 ts_start_ms=int(r[9] or 0), change=Change(r[10] or "new"), direction=int(r[11] or 0))


class SqliteStore:
    """1-minute bars and alerts in one SQLite file in WAL mode; one write connection, pooled readers."""

    name = "sqlite"

    def __init__(self, path: str | Path, synchronous: embedded.Synchronous = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous: embedded.Synchronous = synchronous
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = embedded.connect(self.path, synchronous)
        self._readers = embedded.ReaderPool(self.path, synchronous=synchronous)
        self._counts: tuple[float, int, int] | None = None
        self.bars_written = 0
        self.alerts_written = 0
        self.migrate(SCHEMA)
        self._add_missing_columns()

    # ------------------------------------------------------------------ connections

    def connect(self) -> sqlite3.Connection:
        """A new connection with the store's settings (WAL, busy timeout, synchronous); caller closes it.

        Use it from one thread only. ``with conn:`` wraps statements in a transaction.
        """
        return embedded.connect(self.path, self._synchronous)

    def _write(self) -> sqlite3.Connection:
        """The write connection; call with ``self._write_lock`` held."""
        if self._writer is None:
            raise sqlite3.ProgrammingError(f"store {self.path} is closed")
        return self._writer

    def migrate(self, ddl: str) -> None:
        """Run idempotent DDL (``CREATE TABLE IF NOT EXISTS ...``) for a module's own tables."""
        with self._write_lock:
            conn = self._write()
            with conn:
                conn.executescript(ddl)

    def _add_missing_columns(self) -> None:
        with self._write_lock:
            conn = self._write()
            with conn:
                for table, columns in _ADDED_COLUMNS.items():
                    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                    for name, decl in columns:
                        if name not in have:
                            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    # ------------------------------------------------------------------ Store protocol

    def write_bars(self, bars: Sequence[Bar]) -> None:
        """Upsert 1-minute bars in one transaction."""
        if not bars:
            return
        rows = [_bar_row(b) for b in bars]
        with self._write_lock:
            conn = self._write()
            with conn:
                conn.executemany(_UPSERT_BAR, rows)
        self.bars_written += len(bars)

    def read_bars(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        with self._readers.reading() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_BAR_COLS)} FROM bars_1m WHERE symbol = ? AND start_ms >= ? AND start_ms < ? "
                "ORDER BY start_ms", (symbol, int(start_ms), int(end_ms)),
            ).fetchall()
        return [_row_bar(r) for r in rows]

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Upsert alerts by id in one transaction (evidence stored as JSON)."""
        if not alerts:
            return
        rows = [_alert_row(a) for a in alerts]
        with self._write_lock:
            conn = self._write()
            with conn:
                conn.executemany(_UPSERT_ALERT, rows)
        self.alerts_written += len(alerts)

    def read_alerts(self, start_ms: int, end_ms: int, symbols: Sequence[str] | None = None) -> list[Alert]:
        sql = f"SELECT {', '.join(_ALERT_COLS)} FROM alerts WHERE ts_event_ms >= ? AND ts_event_ms < ?"
        params: list[Any] = [int(start_ms), int(end_ms)]
        if symbols is not None:
            if not symbols:
                return []
            sql += f" AND symbol IN ({', '.join('?' * len(symbols))})"
            params.extend(symbols)
        with self._readers.reading() as conn:
            rows = conn.execute(sql + " ORDER BY ts_event_ms, id", params).fetchall()
        return [_row_alert(r) for r in rows]

    def health(self) -> dict[str, Any]:
        """Path, file size (database plus WAL) and row counts (counted at most every 10 s)."""
        size = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                size += p.stat().st_size
        now = time.monotonic()
        if self._counts is None or now - self._counts[0] > _COUNT_CACHE_S:
            with self._readers.reading() as conn:
                n_bars = conn.execute("SELECT COUNT(*) FROM bars_1m").fetchone()[0]
                n_alerts = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
            self._counts = (now, int(n_bars), int(n_alerts))
        return {
            "backend": self.name,
            "path": str(self.path),
            "problem": self.problem(),
            "size_bytes": size,
            "rows": {"bars_1m": self._counts[1], "alerts": self._counts[2]},
            "bars_written": self.bars_written,
            "alerts_written": self.alerts_written,
        }

    def problem(self) -> str | None:
        """Why writes are not being kept, in one line (``None`` when all is well).

        A deleted data directory is not an error for SQLite: open connections keep writing to the
        deleted files, and every bar written from then on is lost at the next restart.
        """
        if not self.path.parent.is_dir():
            return f"the data directory {self.path.parent} was deleted: nothing written from now on will be kept"
        if not self.path.exists():
            return f"the database {self.path} was deleted: nothing written from now on will be kept"
        if not os.access(self.path.parent, os.W_OK) or not os.access(self.path, os.W_OK):
            return f"the data directory {self.path.parent} is not writable: history and alerts are not being saved"
        return None

    def close(self) -> None:
        """Close the write connection and the idle readers (connections from :meth:`connect` are the caller's)."""
        self._readers.close()
        with self._write_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
