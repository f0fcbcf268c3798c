"""Durable outbox: every alert line, paper trade, outcome and notice is committed here before any
sink sees it, and each sink's message per event is kept here too, so edits survive a restart.

Tables (in the embedded SQLite file, WAL, ``synchronous=NORMAL``: a committed transaction survives
a crash or ``kill -9`` of the process; only an OS crash or power cut can lose the last few, and
then at-least-once delivery resends rather than loses. FULL would add an fsync per commit, about
25 ms at p99 here, which is the whole latency budget of an alert):

- ``outbox(seq, key, kind, payload, created_ms, event_id, history)``: one row per deliverable.
  ``kind`` is ``alert`` (one line of an event), ``trade``, ``outcome`` or ``notice``. An alert
  line's key is ``"<event id>:<severity>:<change>:<ts_event_ms>"`` (:func:`line_key`): the same
  line published twice (a replay after a restart) is ignored, every real change is a row.
  ``history`` marks lines raised while the source replayed warm-up history: they are stored and
  replayed to relay clients that ask with ``since``, never pushed to Discord, Telegram or the
  webhook.
- ``deliveries(sink, key, state, attempts, last_error, updated_ms)``: each sink's own record.
  ``state`` is ``sent``, ``folded`` (a later line of the same event was sent in its place),
  ``muted``, ``history``, ``skipped`` (not for this sink) or ``failed`` (permanent, e.g. Discord
  400) when done, ``retry`` while attempts continue. No row means not tried yet.
- ``outbox_sinks(sink, since_seq)``: a sink registered later (say Discord configured after a
  week) starts from the outbox's end instead of replaying history.
- ``event_messages(sink, event_id, ...)``: the message a sink posted for an event (Discord's
  message id, Telegram's message id), the severity it was posted at, the latest line it shows and
  the state of its chart. Written in the same transaction that records the line as sent, so a
  restart edits the message it already posted instead of posting again.

Guarantee: at-least-once per sink. A sink records ``sent`` right after the far side accepted a
message; if the process dies between the two, that one request is made again after restart (for
an edit that is harmless: the same content again; for a new event's first post it is the one way
an event can get two messages).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import Clock
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent
from virtuoso.storage import embedded

BUSY_TIMEOUT_MS = embedded.BUSY_TIMEOUT_MS
DONE_STATES = ("sent", "folded", "muted", "history", "skipped", "failed")

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
CREATE TABLE IF NOT EXISTS event_messages (
    sink TEXT NOT NULL, event_id TEXT NOT NULL, message_id TEXT NOT NULL, severity TEXT NOT NULL,
    posted_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, last_key TEXT NOT NULL, payload TEXT NOT NULL,
    image TEXT NOT NULL DEFAULT 'none', attachment_id TEXT, posts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sink, event_id)
);
"""
# Columns added after the first release: added in place on an older database.
_ADDED_COLUMNS = (("outbox", "event_id", "TEXT"), ("outbox", "history", "INTEGER NOT NULL DEFAULT 0"))
_INDEXES = "CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_ms);"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One deliverable; ``payload`` is the thing's ``to_dict()``. ``event_id`` for alert lines and outcomes."""

    key: str
    kind: str
    payload: dict[str, Any]
    created_ms: int
    seq: int = 0
    attempts: int = 0
    event_id: str | None = None
    history: bool = False


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a sink posted for one event: the far side's message id and what it shows now.

    ``image`` is ``none`` (not asked for), ``pending`` (wanted, not attached yet), ``attached``,
    ``failed`` or ``off``; ``attachment_id`` is the far side's id of the attached chart.
    """

    event_id: str
    message_id: str
    severity: str
    posted_ms: int
    updated_ms: int
    last_key: str
    payload: dict[str, Any]
    image: str = "none"
    attachment_id: str | None = None
    posts: int = 1


def line_key(alert: Alert) -> str:
    """The outbox key of one line of an event: the same line twice is one row, every change its own."""
    return f"{alert.id}:{alert.severity.value}:{alert.change.value}:{int(alert.ts_event_ms)}"


def alert_item(alert: Alert, created_ms: int, history: bool = False) -> OutboxItem:
    return OutboxItem(line_key(alert), "alert", alert.to_dict(), created_ms, event_id=alert.id, history=history)


def trade_item(event: PaperTradeEvent, created_ms: int) -> OutboxItem:
    return OutboxItem(f"trade:{event.id}", "trade", event.to_dict(), created_ms)


def notice_item(notice: FeedGap | dict[str, Any], created_ms: int) -> OutboxItem:
    """A feed gap (or a heartbeat dict with an ``id``) as one deliverable."""
    payload = notice.to_dict() if isinstance(notice, FeedGap) else dict(notice)
    return OutboxItem(f"notice:{payload['id']}", "notice", payload, created_ms)


def outcome_item(outcome: dict[str, Any], created_ms: int, history: bool = False) -> OutboxItem:
    """An outcome update of one event at one stage (``5m``, ``1h``, ``4h``); history when its event is."""
    return OutboxItem(f"outcome:{outcome['event_id']}:{outcome['stage']}", "outcome", dict(outcome), created_ms,
                      event_id=str(outcome["event_id"]), history=history)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the embedded database's policy (WAL, NORMAL sync, busy timeout); caller closes it."""
    return embedded.connect(path, "NORMAL")


def migrate(conn: sqlite3.Connection) -> None:
    """Create the outbox tables, and add columns an older database lacks (idempotent)."""
    with conn:
        conn.executescript(SCHEMA)
        for table, column, decl in _ADDED_COLUMNS:
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        conn.executescript(_INDEXES)


def insert(conn: sqlite3.Connection, items: Iterable[OutboxItem]) -> list[OutboxItem]:
    """Insert items inside the caller's transaction; returns the new ones (a known key is ignored)."""
    new: list[OutboxItem] = []
    for it in items:
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (key, kind, payload, created_ms, event_id, history) VALUES (?, ?, ?, ?, ?, ?)",
            (it.key, it.kind, json.dumps(it.payload, default=str, separators=(",", ":")), int(it.created_ms),
             it.event_id, int(it.history)),
        )
        if cur.rowcount:
            new.append(replace(it, seq=int(cur.lastrowid or 0)))
    return new


_ITEM_COLS = "o.seq, o.key, o.kind, o.payload, o.created_ms, o.event_id, o.history"


def _item(r: Sequence[Any], attempts: int = 0) -> OutboxItem:
    return OutboxItem(r[1], r[2], json.loads(r[3]), int(r[4]), int(r[0]), attempts, r[5], bool(r[6]))


def _ref(r: Sequence[Any]) -> MessageRef:
    return MessageRef(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], json.loads(r[6]), r[7], r[8], int(r[9]))


class Outbox:
    """The outbox, per-sink delivery records and per-event messages; use one instance from one thread."""

    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        try:
            migrate(self._conn)
        except BaseException:  # a start that fails here must not leave the file open
            self._conn.close()
            raise
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

    def add(self, items: Iterable[OutboxItem], also: Callable[[sqlite3.Connection], None] | None = None) -> list[OutboxItem]:
        """Commit items in one transaction (with ``also(conn)``'s writes); returns the new ones (by key)."""
        with self._conn:
            new = insert(self._conn, items)
            if also is not None:
                also(self._conn)
            return new

    def top_seq(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0])

    def pending(self, sink: str, limit: int = 100) -> list[OutboxItem]:
        """Items this sink has neither done nor given up on, oldest first."""
        start = self._watermark.get(sink, self._since.get(sink, 0))
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLS}, COALESCE(d.attempts, 0) FROM outbox o "
            "LEFT JOIN deliveries d ON d.sink = ? AND d.key = o.key "
            "WHERE o.seq > ? AND (d.state IS NULL OR d.state = 'retry') ORDER BY o.seq LIMIT ?",
            (sink, start, int(limit)),
        ).fetchall()
        if rows:
            self._watermark[sink] = int(rows[0][0]) - 1
        else:
            self._watermark[sink] = max(start, self.top_seq())
        return [_item(r, int(r[7])) for r in rows]

    def _mark_rows(self, sink: str, keys: Sequence[str], state: str, error: str | None) -> None:
        now = self.clock.now_ms()
        self._conn.executemany(
            "INSERT INTO deliveries (sink, key, state, attempts, last_error, updated_ms) VALUES (?, ?, ?, 1, ?, ?) "
            "ON CONFLICT (sink, key) DO UPDATE SET state = excluded.state, attempts = attempts + 1, "
            "last_error = COALESCE(excluded.last_error, last_error), updated_ms = excluded.updated_ms",
            [(sink, k, state, error, now) for k in keys],
        )

    def mark(self, sink: str, keys: Sequence[str], state: str, error: str | None = None) -> None:
        """Record a state (``sent``, ``failed``, ``muted``...) for keys, in one transaction."""
        if not keys:
            return
        with self._conn:
            self._mark_rows(sink, keys, state, error)

    def mark_retry(self, sink: str, keys: Sequence[str], error: str) -> None:
        """Count a failed round for keys that stay pending."""
        self.mark(sink, keys, "retry", error)

    def record_message(self, sink: str, ref: MessageRef, sent: Sequence[str], folded: Sequence[str] = ()) -> None:
        """One transaction: the event's message as it now stands, its line ``sent``, older lines ``folded``."""
        with self._conn:
            self._conn.execute(
                "INSERT INTO event_messages (sink, event_id, message_id, severity, posted_ms, updated_ms, last_key, "
                "payload, image, attachment_id, posts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (sink, event_id) DO UPDATE SET message_id = excluded.message_id, "
                "severity = excluded.severity, posted_ms = excluded.posted_ms, updated_ms = excluded.updated_ms, "
                "last_key = excluded.last_key, payload = excluded.payload, image = excluded.image, "
                "attachment_id = excluded.attachment_id, posts = excluded.posts",
                (sink, ref.event_id, ref.message_id, ref.severity, ref.posted_ms, ref.updated_ms, ref.last_key,
                 json.dumps(ref.payload, default=str, separators=(",", ":")), ref.image, ref.attachment_id, ref.posts),
            )
            self._mark_rows(sink, sent, "sent", None)
            self._mark_rows(sink, folded, "folded", None)

    def message_ref(self, sink: str, event_id: str) -> MessageRef | None:
        row = self._conn.execute(
            "SELECT event_id, message_id, severity, posted_ms, updated_ms, last_key, payload, image, attachment_id, posts "
            "FROM event_messages WHERE sink = ? AND event_id = ?", (sink, event_id)).fetchone()
        return _ref(row) if row else None

    def refs_with_image(self, sink: str, image: str, limit: int = 100) -> list[MessageRef]:
        """Event messages whose chart is in state ``image`` (``pending`` after a restart), newest first."""
        rows = self._conn.execute(
            "SELECT event_id, message_id, severity, posted_ms, updated_ms, last_key, payload, image, attachment_id, posts "
            "FROM event_messages WHERE sink = ? AND image = ? ORDER BY posted_ms DESC LIMIT ?",
            (sink, image, int(limit))).fetchall()
        return [_ref(r) for r in rows]

    def backlog(self, sink: str) -> int:
        """How many items wait for this sink (rows below the watermark are all done)."""
        start = self._watermark.get(sink, self._since.get(sink, 0))
        return int(self._conn.execute(
            "SELECT COUNT(*) FROM outbox o LEFT JOIN deliveries d ON d.sink = ? AND d.key = o.key "
            "WHERE o.seq > ? AND (d.state IS NULL OR d.state = 'retry')", (sink, start),
        ).fetchone()[0])

    def replay(self, kinds: Sequence[str], *, after_seq: int = 0, since_ms: int | None = None,
               until_seq: int | None = None, limit: int = 10_000) -> list[OutboxItem]:
        """Rows of ``kinds`` after ``after_seq`` (and created at or after ``since_ms``) up to
        ``until_seq``, oldest first: what a relay client missed."""
        if not kinds:
            return []
        sql = (f"SELECT {_ITEM_COLS} FROM outbox o WHERE o.seq > ? AND o.seq <= ? "
               f"AND o.kind IN ({', '.join('?' * len(kinds))})")
        params: list[Any] = [int(after_seq), int(until_seq if until_seq is not None else self.top_seq()), *kinds]
        if since_ms is not None:
            sql += " AND o.created_ms >= ?"
            params.append(int(since_ms))
        rows = self._conn.execute(sql + " ORDER BY o.seq LIMIT ?", (*params, int(limit))).fetchall()
        return [_item(r) for r in rows]

    def last_seq_of_event(self, event_id: str) -> int | None:
        """The newest outbox row of an event (a relay client resuming after that event)."""
        row = self._conn.execute("SELECT MAX(seq) FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def event_is_history(self, event_id: str) -> bool:
        """True when every line of the event was raised on warm-up history (its outcome is history too)."""
        row = self._conn.execute("SELECT MIN(history) FROM outbox WHERE event_id = ? AND kind = 'alert'",
                                 (event_id,)).fetchone()
        return bool(row and row[0])

    def counts_since(self, since_ms: int) -> dict[str, int]:
        """Rows per kind created since ``since_ms`` (the daily heartbeat)."""
        return dict(self._conn.execute(
            "SELECT kind, COUNT(*) FROM outbox WHERE created_ms >= ? AND history = 0 GROUP BY kind",
            (int(since_ms),)).fetchall())

    def items_since(self, kind: str, since_ms: int, limit: int = 100_000) -> list[OutboxItem]:
        rows = self._conn.execute(f"SELECT {_ITEM_COLS} FROM outbox o WHERE o.kind = ? AND o.created_ms >= ? "
                                  "ORDER BY o.seq LIMIT ?", (kind, int(since_ms), int(limit))).fetchall()
        return [_item(r) for r in rows]
