"""Alert outcomes in the embedded database: one row per event, updated as its horizons are measured.

``alert_outcomes(event_id, symbol, kind, severity, direction, ts_ms, simulated, history, stage,
final, payload, updated_ms)``: ``payload`` is the :class:`~virtuoso.alerting.outcomes.Outcome` as
JSON; ``final`` is 1 once the 4-hour horizon is measured or given up on (no data came). Events are
registered by :func:`register_lines` in the same transaction that commits their lines to the
outbox, so an event in the outbox always has an outcome row, whatever crash came after.

One connection behind a lock: the delivery loop registers, a worker thread measures, dashboard
threads read. Short statements only, so nobody waits long.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from virtuoso.alerting.outbox import connect
from virtuoso.alerting.outcomes import Outcome
from virtuoso.domain.alerts import Alert, Severity

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_outcomes (
    event_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    direction INTEGER NOT NULL, ts_ms INTEGER NOT NULL, simulated INTEGER NOT NULL, history INTEGER NOT NULL,
    stage TEXT NOT NULL DEFAULT 'pending', final INTEGER NOT NULL DEFAULT 0, payload TEXT, updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_outcomes_ts ON alert_outcomes (ts_ms);
CREATE INDEX IF NOT EXISTS alert_outcomes_open ON alert_outcomes (final, ts_ms);
"""
_RANK = {s.value: s.rank for s in Severity}


def register_lines(conn: sqlite3.Connection, alerts: Iterable[Alert], now_ms: int, history: bool) -> None:
    """Inside the caller's transaction: an outcome row per event, its kind and highest severity kept
    current (a reclassification changes the kind; severities only rise)."""
    for a in alerts:
        ts = int(a.ts_start_ms or a.ts_event_ms)
        conn.execute(
            "INSERT INTO alert_outcomes (event_id, symbol, kind, severity, direction, ts_ms, simulated, history, "
            "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET kind = excluded.kind, "
            "severity = CASE WHEN ? > (CASE alert_outcomes.severity WHEN 'info' THEN 0 WHEN 'watch' THEN 1 "
            "WHEN 'high' THEN 2 ELSE 3 END) THEN excluded.severity ELSE alert_outcomes.severity END, "
            "direction = CASE WHEN alert_outcomes.direction = 0 THEN excluded.direction ELSE alert_outcomes.direction END, "
            "history = MIN(alert_outcomes.history, excluded.history)",
            (a.id, a.symbol, a.kind.value, a.severity.value, int(a.direction), ts, int(a.simulated), int(history),
             int(now_ms), _RANK[a.severity.value]),
        )


def _outcome(row: Sequence[object]) -> Outcome:
    event_id, symbol, kind, severity, direction, ts_ms, simulated, stage, payload = row
    base = Outcome(str(event_id), str(symbol), str(kind), str(severity), int(direction), int(ts_ms), bool(simulated))
    if not payload:
        return base
    measured = Outcome.from_dict(json.loads(str(payload)))
    # identity from the row (kind and severity may have moved on since it was measured)
    return Outcome.from_dict({**measured.to_dict(), "kind": base.kind, "severity": base.severity,
                              "direction": base.direction, "stage": str(stage)})


_COLS = "event_id, symbol, kind, severity, direction, ts_ms, simulated, stage, payload"


class OutcomeStore:
    """Reads and updates outcome rows; safe from any thread."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        with self._lock, self._conn:
            self._conn.executescript(SCHEMA)

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection, opened on first use (again after :meth:`close`); call under the lock."""
        if self._db is None:
            self._db = connect(self.db_path)
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def open_events(self, limit: int = 5_000) -> list[Outcome]:
        """Events whose outcome is not final yet, oldest first."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLS} FROM alert_outcomes WHERE final = 0 ORDER BY ts_ms LIMIT ?",
                                      (int(limit),)).fetchall()
        return [_outcome(r) for r in rows]

    def update(self, outcome: Outcome, now_ms: int, final: bool) -> None:
        payload = json.dumps(outcome.to_dict(), separators=(",", ":"))
        with self._lock, self._conn:
            self._conn.execute("UPDATE alert_outcomes SET stage = ?, final = ?, payload = ?, updated_ms = ? "
                               "WHERE event_id = ?", (outcome.stage, int(final), payload, int(now_ms), outcome.event_id))

    def outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None,
                 include_history: bool = True) -> list[Outcome]:
        """Outcomes of events that opened at or after ``since_ms``, oldest first."""
        sql = f"SELECT {_COLS} FROM alert_outcomes WHERE ts_ms >= ?"
        params: list[object] = [int(since_ms or 0)]
        if symbols is not None:
            if not symbols:
                return []
            sql += f" AND symbol IN ({', '.join('?' * len(symbols))})"
            params.extend(symbols)
        if not include_history:
            sql += " AND history = 0"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts_ms, event_id", params).fetchall()
        return [_outcome(r) for r in rows]

    def measured(self, symbol: str | None, kind: str, limit: int = 500) -> list[Outcome]:
        """The latest measured (at least +1 h) outcomes of ``kind`` (on ``symbol``, or every coin)."""
        sql = f"SELECT {_COLS} FROM alert_outcomes WHERE kind = ? AND stage IN ('1h', '4h')"
        params: list[object] = [kind]
        if symbol is not None:
            sql += " AND symbol = ?"
            params.append(symbol)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts_ms DESC LIMIT ?", (*params, int(limit))).fetchall()
        return [_outcome(r) for r in rows]
