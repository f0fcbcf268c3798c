"""Durable outbox: alerts and paper trades are committed here before any sink sees them.

Tables (in the embedded SQLite file, WAL, ``synchronous=NORMAL``: a committed transaction survives
a crash or ``kill -9`` of the process; only an OS crash or power cut can lose the last few, and
then at-least-once delivery resends rather than loses. FULL would add an fsync per commit, about
25 ms at p99 here, which is the whole latency budget of an alert):

- ``outbox(seq, key, kind, payload, created_ms)``: one row per deliverable. The key of an alert
  is ``"<alert id>:<severity>"``, so a re-alert of the same episode at a higher severity is a new
  delivery while a repeat at the same severity is ignored. A trade's key is ``"trade:<id>"``.
- ``deliveries(sink, key, state, attempts, last_error, updated_ms)``: each sink's own record.
  ``state`` is ``sent``, ``muted`` (Discord skipped it: muted on the dashboard) or ``failed``
  (permanent, e.g. Discord 400/404) when done, ``retry``
  while attempts continue. No row means not tried yet.
- ``outbox_sinks(sink, since_seq)``: a sink registered later (say Discord configured after a
  week) starts from the outbox's end instead of replaying history.

Guarantee: at-least-once per sink. A sink records ``sent`` right after the far side accepted a
message; if the process dies between the two, that one message is sent again after restart. That
is the only way a key reaches the same sink twice.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import Clock
from virtuoso.domain.trades import PaperTradeEvent

BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    sink TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_ms INTEGER NOT NULL,
    PRIMARY KEY (sink, key)
);
CREATE TABLE IF NOT EXISTS outbox_sinks (sink TEXT PRIMARY KEY, since_seq INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One deliverable: ``kind`` is ``alert`` or ``trade``; ``payload`` is the event's ``to_dict()``."""

    key: str
    kind: str
    payload: dict[str, Any]
    created_ms: int
    seq: int = 0
    attempts: int = 0


def alert_item(alert: Alert, created_ms: int) -> OutboxItem:
    """Keyed on (id, severity): a higher-severity re-alert is delivered again, a repeat is not."""
    return OutboxItem(f"{alert.id}:{alert.severity.value}", "alert", alert.to_dict(), created_ms)


def trade_item(event: PaperTradeEvent, created_ms: int) -> OutboxItem:
    return OutboxItem(f"trade:{event.id}", "trade", event.to_dict(), created_ms)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the embedded store's conventions (WAL, NORMAL sync, busy timeout)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def insert(conn: sqlite3.Connection, items: Iterable[OutboxItem]) -> list[OutboxItem]:
    """Insert items inside the caller's transaction; returns the new ones (a known key is ignored)."""
    new: list[OutboxItem] = []
    for it in items:
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (key, kind, payload, created_ms) VALUES (?, ?, ?, ?)",
            (it.key, it.kind, json.dumps(it.payload, default=str, separators=(",", ":")), int(it.created_ms)),
        )
        if cur.rowcount:
            new.append(OutboxItem(it.key, it.kind, it.payload, it.created_ms, int(cur.lastrowid or 0)))
    return new


class Outbox:
    """The outbox and per-sink delivery records; use one instance from one thread."""

    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        with self._conn:
            self._conn.executescript(SCHEMA)
        self._since: dict[str, int] = {}
        self._watermark: dict[str, int] = {}

    def close(self) -> None:
        self._conn.close()

    def register_sink(self, sink: str) -> None:
        """Start tracking ``sink``; a new sink only gets what is added from now on."""
        with self._conn:
            top = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
            self._conn.execute("INSERT OR IGNORE INTO outbox_sinks (sink, since_seq) VALUES (?, ?)", (sink, top))
        since = self._conn.execute("SELECT since_seq FROM outbox_sinks WHERE sink = ?", (sink,)).fetchone()[0]
        self._since[sink] = int(since)
        self._watermark[sink] = int(since)

    @property
    def conn(self) -> sqlite3.Connection:
        """The outbox connection, for a caller that must commit its own rows with an outbox row."""
        return self._conn

    def add(self, items: Iterable[OutboxItem]) -> list[OutboxItem]:
        """Commit items in one transaction; returns the ones that were new (by key)."""
        with self._conn:
            return insert(self._conn, items)

    def pending(self, sink: str, limit: int = 100) -> list[OutboxItem]:
        """Items this sink has neither sent nor given up on, oldest first."""
        start = self._watermark.get(sink, self._since.get(sink, 0))
        rows = self._conn.execute(
            "SELECT o.seq, o.key, o.kind, o.payload, o.created_ms, COALESCE(d.attempts, 0) FROM outbox o "
            "LEFT JOIN deliveries d ON d.sink = ? AND d.key = o.key "
            "WHERE o.seq > ? AND (d.state IS NULL OR d.state = 'retry') ORDER BY o.seq LIMIT ?",
            (sink, start, int(limit)),
        ).fetchall()
        if rows:
            self._watermark[sink] = int(rows[0][0]) - 1
        else:
            top = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
            self._watermark[sink] = max(start, int(top))
        return [OutboxItem(r[1], r[2], json.loads(r[3]), int(r[4]), int(r[0]), int(r[5])) for r in rows]

    def mark(self, sink: str, keys: Sequence[str], state: str, error: str | None = None) -> None:
        """Record a final state (``sent`` or ``failed``) for keys, in one transaction."""
        now = self.clock.now_ms()
        with self._conn:
            self._conn.executemany(
                "INSERT INTO deliveries (sink, key, state, attempts, last_error, updated_ms) VALUES (?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (sink, key) DO UPDATE SET state = excluded.state, attempts = attempts + 1, "
                "last_error = COALESCE(excluded.last_error, last_error), updated_ms = excluded.updated_ms",
                [(sink, k, state, error, now) for k in keys],
            )

    def mark_retry(self, sink: str, keys: Sequence[str], error: str) -> None:
        """Count a failed round for keys that stay pending."""
        self.mark(sink, keys, "retry", error)

    def backlog(self, sink: str) -> int:
        """How many items wait for this sink (rows below the watermark are all done)."""
        start = self._watermark.get(sink, self._since.get(sink, 0))
        return int(self._conn.execute(
            "SELECT COUNT(*) FROM outbox o LEFT JOIN deliveries d ON d.sink = ? AND d.key = o.key "
            "WHERE o.seq > ? AND (d.state IS NULL OR d.state = 'retry')", (sink, start),
        ).fetchone()[0])

    def states(self, sink: str) -> dict[str, str]:
        """key -> state for every record of ``sink`` (tests and tools)."""
        return dict(self._conn.execute("SELECT key, state FROM deliveries WHERE sink = ?", (sink,)).fetchall())
