"""The embedded database (SQLite, ``data_dir/virtuoso.db``): the one module that opens connections.

Every part that keeps tables there (history store, outbox, outcomes, operator marks, InfluxDB
spill) gets its connections from here, so they all run with the same policy:

- **PRAGMAs**: WAL journal (readers never block the writer), a 10 s busy timeout (a second writer
  waits instead of failing), and ``synchronous`` chosen per use: ``FULL`` where a committed row
  must survive a power cut (history, spill), ``NORMAL`` where at-least-once delivery resends what an
  OS crash could lose (outbox, outcomes, marks).
- **Ownership**: a long-lived connection belongs to exactly one object that closes it
  (:func:`connect`). Threads that come and go (Streamlit runs every rerun on a new thread) never
  get a connection of their own: they borrow one from a :class:`ReaderPool`, which keeps at most
  a few idle connections however many threads have read. A connection kept per thread and never
  closed leaked one file descriptor per second under the dashboard.
- **Accounting**: :func:`open_connections` counts connections opened here and not yet closed, so
  tests (and health) can see a leak instead of waiting for the open-file limit.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal

BUSY_TIMEOUT_MS = 10_000
READERS_IDLE_MAX = 2  # idle read connections a pool keeps; more concurrent readers get temporary ones

Synchronous = Literal["FULL", "NORMAL", "OFF"]

_open_lock = threading.Lock()
_open: dict[str, int] = {}


class _CountedConnection(sqlite3.Connection):
    """A connection that is counted while open (see :func:`open_connections`)."""

    _counted_path = ""

    def close(self) -> None:
        path, self._counted_path = self._counted_path, ""
        super().close()
        if path:
            with _open_lock:
                _open[path] = _open.get(path, 1) - 1


def connect(path: str | Path, synchronous: Synchronous = "NORMAL") -> _CountedConnection:
    """A new connection with the embedded policy; the caller owns it and closes it.

    ``check_same_thread`` is off because owners serialise use with their own lock or a single
    thread; Python's sqlite3 module is built serialised, so that is safe.
    """
    if synchronous not in ("FULL", "NORMAL", "OFF"):
        raise ValueError(f"synchronous must be FULL, NORMAL or OFF, got {synchronous!r}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                           factory=_CountedConnection)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error:
        conn.close()
        raise
    key = str(p.resolve())
    conn._counted_path = key
    with _open_lock:
        _open[key] = _open.get(key, 0) + 1
    return conn


def open_connections(path: str | Path | None = None) -> int:
    """Connections opened by this module and not closed yet (for one database file, or all)."""
    with _open_lock:
        if path is None:
            return sum(_open.values())
        return _open.get(str(Path(path).resolve()), 0)


class ReaderPool:
    """Read connections shared by any number of short-lived threads, at most ``idle_max`` kept idle.

    A thread borrows a connection for one read (:meth:`reading`) and gives it back; when the pool
    already holds ``idle_max`` idle ones, the returned connection is closed. So the number of open
    connections is bounded by the number of reads in flight, never by the number of threads seen.
    """

    def __init__(self, path: str | Path, idle_max: int = READERS_IDLE_MAX, synchronous: Synchronous = "NORMAL") -> None:
        self.path = Path(path)
        self.idle_max = int(idle_max)
        self._synchronous: Synchronous = synchronous
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for one read; returned to the pool (or closed) afterwards, whatever happens."""
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"database {self.path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = connect(self.path, self._synchronous)
        try:
            yield conn
        finally:
            if conn.in_transaction:  # a reader never writes; never keep a snapshot open in the pool
                conn.rollback()
            with self._lock:
                keep = not self._closed and len(self._idle) < self.idle_max
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Close the idle connections; connections in use are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()
